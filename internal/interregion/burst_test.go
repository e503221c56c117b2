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
	"github.com/meridian-gateway/meridian/internal/inference/inferencetest"
)

type burstLocal struct{ s *inferencetest.BurstStream }

func (l burstLocal) ServeForwarded(context.Context, *dispatch.Job) (*dispatch.Outcome, error) {
	return &dispatch.Outcome{Stream: l.s}, nil
}

// TestForwardBurstBounded forwards a burst (every event already
// here at the destination) whose events after the first
// inference.BurstMaxEvents are held until
// the source has read the first, over a real loopback mTLS link, in both
// stream formats and both protocols: the destination's relay must send the
// first event before it has relayed the rest.
func TestForwardBurstBounded(t *testing.T) {
	const n = 40
	ev := inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat,
		Raw: []byte(`{"id":"chatcmpl-9","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" token"}}]}`)}
	for _, tc := range streamFormats {
		for _, h2 := range []bool{false, true} {
			name := tc.name + "/http1"
			if h2 {
				name = tc.name + "/h2"
			}
			t.Run(name, func(t *testing.T) {
				s := inferencetest.NewBurstStream(ev, n, inference.BurstMaxEvents)
				c := startLocalLink(t, burstLocal{s}, h2, func(h http.Handler) http.Handler {
					return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						if !tc.framed {
							r.Header.Del("Accept")
						}
						h.ServeHTTP(w, r)
					})
				})
				t.Cleanup(s.Release) // before the server's Close, which waits for the relay
				type first struct {
					st  inference.Stream
					raw string
					err error
				}
				got := make(chan first, 1)
				go func() {
					st, err := c.Executor(dst).Stream(t.Context(), forwardJob())
					if err != nil {
						got <- first{err: err}
						return
					}
					ev, err := st.Recv()
					got <- first{st, string(ev.Raw), err}
				}()
				var st inference.Stream
				select {
				case f := <-got:
					if f.err != nil {
						t.Fatal(f.err)
					}
					if f.raw != string(ev.Raw) {
						t.Fatalf("first event = %q, want %q", f.raw, ev.Raw)
					}
					st = f.st
				case <-time.After(10 * time.Second): // hang guard only
					t.Fatal("the first event of the burst never crossed the link: the relay waited for later events")
				}
				defer st.Close()
				s.Release()
				for i := 1; ; i++ {
					got, err := st.Recv()
					if errors.Is(err, io.EOF) {
						if i != n {
							t.Fatalf("stream ended after %d events, want %d", i, n)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					if string(got.Raw) != string(ev.Raw) {
						t.Fatalf("event %d = %q, want %q", i, got.Raw, ev.Raw)
					}
				}
			})
		}
	}
}
