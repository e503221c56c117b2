package interregion

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// endingLocal is a destination gateway whose streams send one event and
// then end with end: io.EOF (the end frame) or an error (an error frame).
type endingLocal struct{ end error }

func (l endingLocal) ServeForwarded(context.Context, *dispatch.Job) (*dispatch.Outcome, error) {
	return &dispatch.Outcome{Stream: &endingStream{end: l.end}}, nil
}

type endingStream struct {
	end  error
	sent bool
}

func (s *endingStream) Recv() (inference.Event, error) {
	if !s.sent {
		s.sent = true
		return inference.Event{Kind: inference.EventDelta, Text: "ok"}, nil
	}
	return inference.Event{}, s.end
}

func (s *endingStream) Close() error { return nil }

// TestForwardedStreamKeepsItsConnection: a forwarded stream that ended (its
// end frame, or an error frame: the destination's stream is over either
// way) gives its pool connection back, even when the body's end (HTTP/1.1's
// last chunk) arrives after that frame in a write of its own and the
// caller's context ends right after Close, as a source's HTTP handler's
// does when it returns. Closing the stream reads the body to its end in the
// background, detached from the caller's context; the test waits for that
// (released) before the next stream. A stream that dropped its connection
// made the next forward dial, and shake hands (mutual TLS), again.
func TestForwardedStreamKeepsItsConnection(t *testing.T) {
	t.Parallel()
	ends := []struct {
		name string
		end  error
	}{
		{"end frame", io.EOF},
		{"error frame", &inference.Error{Kind: inference.KindUpstream, Message: "upstream error: overloaded"}},
	}
	for _, tc := range poolLinkKinds {
		for _, e := range ends {
			t.Run(tc.name+"/"+e.name, func(t *testing.T) {
				t.Parallel()
				// sawEnd is sent to once the source has read the stream's
				// last frame; only then does the destination's handler
				// return, which writes the body's end in a write of its
				// own.
				sawEnd := make(chan struct{}, 1)
				l := startPoolLink(t, poolLinkOptions{secure: tc.secure, h2: tc.h2, local: endingLocal{end: e.end},
					wrap: func(h http.Handler) http.Handler {
						return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
							h.ServeHTTP(w, r)
							if r.URL.Path != PathInvoke {
								return
							}
							http.NewResponseController(w).Flush()
							select {
							case <-sawEnd:
							case <-r.Context().Done():
							}
						})
					}})
				const n = 3
				for i := range n {
					ctx, cancel := context.WithCancel(t.Context())
					st, err := l.client.Executor(dst).Stream(ctx, forwardJob())
					if err != nil {
						cancel()
						t.Fatalf("stream %d: %v", i, err)
					}
					var end error
					for end == nil {
						_, end = st.Recv()
					}
					var ie *inference.Error
					if e.end == io.EOF && end != io.EOF || e.end != io.EOF && (!errors.As(end, &ie) || ie.Kind != inference.KindUpstream) {
						t.Fatalf("stream %d ended with %v, want %v", i, end, e.end)
					}
					sawEnd <- struct{}{}
					st.Close()
					cancel()
					select {
					case <-st.(*remoteStream).released:
					case <-time.After(time.Minute): // a hang guard only
						t.Fatalf("stream %d: its request was never released", i)
					}
				}
				if got := l.conns.Load(); got != 1 {
					t.Errorf("%d sequential streams opened %d connections, want 1 (each gave its connection back at its end)", n, got)
				}
				if got := l.client.peers[dst].lanes.pool.inFlight.Load(); got != 0 {
					t.Errorf("the streams left %d requests in flight on the pool, want 0", got)
				}
			})
		}
	}
}
