package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// longError is an OpenAI error answer of about n bytes: a message, then
// padding in a member of its own (some servers put a trace there).
func longError(message string, n int) string {
	return fmt.Sprintf(`{"error":{"message":%q,"type":"invalid_request_error","trace":%q}}`, message, strings.Repeat("x", max(n-100, 0)))
}

// TestLongErrorAnswerKeepsItsConnection: a model's error answer longer than
// the part kept for its message (4 KiB) is read on to its end, within
// bounds, so that its connection goes back to the pool; one over the bound
// (64 KiB) is not read whole and costs its connection, as every error
// answer over 4 KiB did. The error is the same either way.
func TestLongErrorAnswerKeepsItsConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		size int
		// wantConns is the connections that three sequential requests
		// open.
		wantConns int64
	}{
		{"short", 200, 1},
		{"over 4 KiB", 10 << 10, 1},
		{"just under the bound", maxErrorBody - 10, 1},
		{"over the bound", 2 * maxErrorBody, 3},
	} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tc.name, stream), func(t *testing.T) {
				t.Parallel()
				body := longError("max_tokens is too large", tc.size)
				srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					io.WriteString(w, body)
				}))
				b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m"})
				defer b.Close()
				const n = 3
				for i := range n {
					var err error
					if stream {
						_, err = b.Stream(t.Context(), req())
					} else {
						_, err = b.Complete(t.Context(), req())
					}
					var e *inference.Error
					if !errors.As(err, &e) || e.Kind != inference.KindInvalidRequest || e.Message != "the model rejected the request: max_tokens is too large" && tc.size < maxErrorBody {
						t.Fatalf("request %d: %.300v, want the model's refusal", i, err)
					}
				}
				if got := conns.Load(); got != tc.wantConns {
					t.Errorf("%d requests answered with %d-byte errors opened %d connections, want %d", n, len(body), got, tc.wantConns)
				}
			})
		}
	}
}

// TestErrorAnswerReadIsBounded: an upstream that sends an error's headers
// and then holds its body open holds the request for errorBodyWait on the
// backend's clock at most: the error is then reported with what arrived
// (the connection is let go). Before, the read waited for the body as long
// as the caller's context allowed.
func TestErrorAnswerReadIsBounded(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Retry-After", "3")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"slow`)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	clk := clock.NewManual(time.Unix(1_800_000_000, 0))
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", Clock: clk})
	defer b.Close()
	guard, stop := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := b.Complete(guard, req())
		done <- err
	}()
	// The read's time-out is armed (the first-byte timer came and went
	// before it, on the same clock).
	if err := clk.WaitArmed(guard, errorBodyWait, 1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("Complete returned %v before the error's body ended or its time-out", err)
	default:
	}
	clk.Advance(errorBodyWait)
	select {
	case err := <-done:
		var e *inference.Error
		if !errors.As(err, &e) || e.Kind != inference.KindThrottled || e.RetryAfter != 3*time.Second {
			t.Errorf("Complete = %v, want throttled with Retry-After 3s", err)
		}
		if guard.Err() != nil {
			t.Errorf("Complete returned only when its caller gave up")
		}
	case <-guard.Done():
		t.Fatal("the error answer's read outlived its time-out")
	}
}
