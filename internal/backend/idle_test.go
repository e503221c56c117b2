package backend

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// idle is the stream idle time-out of these tests: the behaviour under
// test is what happens when it passes, not how long it takes. The first
// byte time-out is far longer, so only the idle time-out can end a stall.
const (
	idle      = 50 * time.Millisecond
	firstByte = time.Hour
)

// TestOpenAIStreamIdleTimeout: an upstream that stalls after its response
// headers fails Stream with a retryable time-out (the gateway fails over:
// nothing reached the client), and one that stalls mid-stream ends the
// stream with a time-out error (reported in-stream) instead of holding the
// caller.
func TestOpenAIStreamIdleTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		before string // sent before the stall
		// wantStream: Stream itself succeeds and a later Recv fails.
		wantStream bool
	}{
		{"stall after headers", "", false},
		{"stall after a comment", ": keep-alive\n\n", false},
		{"stall mid-stream", `data: {"id":"x","choices":[{"delta":{"content":"Hel"}}]}` + "\n\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.WriteHeader(http.StatusOK)
				io.WriteString(w, tc.before)
				w.(http.Flusher).Flush()
				<-r.Context().Done() // stall until the client gives up
			}))
			defer srv.Close()
			clk := clock.NewManual(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
			b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", FirstByteTimeout: firstByte, StreamIdleTimeout: idle, Clock: clk})
			defer b.Close()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // hang guard only
			defer cancel()
			streamed, errc := make(chan error, 1), make(chan error, 1)
			go func() {
				s, err := b.Stream(ctx, req())
				streamed <- err
				if err != nil {
					errc <- err
					return
				}
				defer s.Close()
				for err == nil {
					_, err = s.Recv()
				}
				errc <- err
			}()
			if tc.wantStream {
				// Stream returns with the first event; the stall is in the
				// next Recv.
				if err := <-streamed; err != nil {
					t.Fatalf("Stream: %v", err)
				}
			}
			// Time passes only once a wait for an event is armed (the
			// wait that stalls), one idle time-out each, until the stream
			// ends; the first-byte timer comes and goes before.
			actx, stop := context.WithCancel(ctx)
			go func() {
				for n := 1; clk.WaitArmed(actx, idle, n) == nil; n++ {
					clk.Advance(idle)
				}
			}()
			err := <-errc
			stop()
			assertIdleTimeout(t, ctx, err)
		})
	}
}

func assertIdleTimeout(t *testing.T, guard context.Context, err error) {
	t.Helper()
	if guard.Err() != nil {
		t.Fatalf("the stall held the caller until the hang guard: %v", err)
	}
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.KindTimeout || !e.Kind.Retryable() {
		t.Fatalf("error = %v, want a retryable time-out", err)
	}
}

// stallingEvents is a ConverseStream event source that sends events, then
// nothing.
type stallingEvents struct {
	ch     chan types.ConverseStreamOutput
	closed chan struct{}
}

func newStallingEvents(evs ...types.ConverseStreamOutput) *stallingEvents {
	s := &stallingEvents{ch: make(chan types.ConverseStreamOutput, len(evs)), closed: make(chan struct{})}
	for _, ev := range evs {
		s.ch <- ev
	}
	return s
}

func (s *stallingEvents) Events() <-chan types.ConverseStreamOutput { return s.ch }
func (s *stallingEvents) Err() error                                { return nil }
func (s *stallingEvents) Close() error                              { return nil }

// TestBedrockStreamIdleTimeout: a ConverseStream that stops sending events
// ends with a time-out error once the idle time-out passes on the
// stream's clock (a manual one: nothing waits on the wall clock), rather
// than holding the caller.
func TestBedrockStreamIdleTimeout(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // hang guard only
	defer cancel()
	sctx, scancel := context.WithCancel(ctx)
	clk := clock.NewManual(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	s := newBedrockStream(sctx, scancel, newStallingEvents(&types.ConverseStreamOutputMemberMessageStart{}), idle, clk)
	defer s.Close()
	if ev, err := s.Recv(); err != nil || ev.Kind != inference.EventStart {
		t.Fatalf("first Recv = %v, %v; want the start event", ev, err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Recv()
		errc <- err
	}()
	if err := clk.WaitTimers(ctx, 1); err != nil { // Recv armed its idle timer
		t.Fatal(err)
	}
	clk.Advance(idle - time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("Recv ended before the idle time-out: %v", err)
	default:
	}
	clk.Advance(time.Millisecond)
	select {
	case err := <-errc:
		assertIdleTimeout(t, ctx, err)
	case <-ctx.Done():
		t.Fatal("Recv still waiting after the idle time-out passed")
	}
}
