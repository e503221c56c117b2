package interregion

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// lateHeaders is a round tripper whose headers arrive just as the
// first-byte timer fires: it writes the request, the clock passes the
// bound, then it returns the response.
type lateHeaders struct {
	clk    *clock.Manual
	closed *bool
}

func (rt lateHeaders) RoundTrip(req *http.Request) (*http.Response, error) {
	httptrace.ContextClientTrace(req.Context()).WroteRequest(httptrace.WroteRequestInfo{})
	rt.clk.Advance(time.Second)
	return &http.Response{StatusCode: http.StatusOK, Body: closeNoter{io.NopCloser(strings.NewReader("x")), rt.closed}, Request: req}, nil
}

type closeNoter struct {
	io.ReadCloser
	closed *bool
}

func (c closeNoter) Close() error { *c.closed = true; return c.ReadCloser.Close() }

// TestFirstByteOneOutcome: headers that arrive as the first-byte timer
// fires give one outcome, the time-out (a failover-able error before the
// first byte), never a response whose context is already cancelled, whose
// body would fail on its first read after the gateway can no longer fail
// over. The response's body is closed.
func TestFirstByteOneOutcome(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Unix(0, 0))
	l := &lanes{clock: clk, firstByte: time.Second}
	req, err := http.NewRequest(http.MethodPost, "http://peer.invalid/", nil)
	if err != nil {
		t.Fatal(err)
	}
	var closed bool
	resp, cancel, err := l.roundTripWithin(lateHeaders{clk, &closed}, req, false)
	if err == nil {
		cancel()
		t.Fatalf("a response (context error %v), want the first-byte time-out", resp.Request.Context().Err())
	}
	if err != errFirstByteTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %v, want net/http's first-byte time-out (a deadline)", err)
	}
	if !closed {
		t.Error("the late response's body was not closed")
	}
}
