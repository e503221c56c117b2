package backend

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// TestOpenAICloseEndsItsDrains: Close owns the drains of the streams that
// ended: it cuts short one still waiting for the body's end (the
// connection is going away with the backend), and returns only once it
// has let its request go. An upstream holds the body open after [DONE],
// and the backend's clock never moves, so the drain can end by Close
// alone; a Close that returned while it still ran leaves the body open.
func TestOpenAICloseEndsItsDrains(t *testing.T) {
	t.Parallel()
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}`+"\n\n")
		io.WriteString(w, "data: [DONE]\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	clk := clock.NewManual(time.Unix(1_800_000_000, 0))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ended := make(chan error, 1)
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", Clock: clk, FirstByteTimeout: time.Hour, StreamIdleTimeout: time.Hour,
		Transport: watchDone{tr, make(chan struct{}, 1), ended}})
	// Whatever happens, the drain's time-out ends it before the server's
	// Close waits for the handler.
	defer clk.Advance(maxDrainWait)
	s, err := b.Stream(t.Context(), req())
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := s.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
	}
	timers := clk.Timers()
	s.Close()
	guard, stop := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer stop()
	if err := clk.WaitTimers(guard, timers+1); err != nil { // the drain has begun
		t.Fatal(err)
	}
	b.Close()
	select {
	case err := <-ended:
		if err == io.EOF {
			t.Errorf("the body was read to its end, which the upstream never sent")
		}
	default:
		t.Fatal("Close returned while a stream's drain still ran (the body is still open)")
	}
}

// TestBedrockCloseEndsItsDrains: as TestOpenAICloseEndsItsDrains, for a
// Bedrock stream passed through that ended in an exception message, whose
// body Bedrock holds open after it.
func TestBedrockCloseEndsItsDrains(t *testing.T) {
	t.Parallel()
	exc := exceptionFrame(t, "throttlingException", "slow down")
	srv, _ := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
		w.Write(encodeFrame(t, "messageStart", []byte(`{"role":"assistant"}`)))
		w.Write(exc)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	clk := clock.NewManual(time.Unix(1_800_000_000, 0))
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ended := make(chan error, 1)
	b := newTestBedrock(t, srv.URL, watchDone{tr, make(chan struct{}, 1), ended}, clk)
	defer clk.Advance(maxDrainWait)
	s, err := b.Stream(t.Context(), converseStreamRequest())
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = s.Recv()
	}
	timers := clk.Timers()
	s.Close()
	guard, stop := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer stop()
	if err := clk.WaitTimers(guard, timers+1); err != nil { // the drain has begun
		t.Fatal(err)
	}
	b.Close()
	select {
	case err := <-ended:
		if err == io.EOF {
			t.Errorf("the body was read to its end, which Bedrock never sent")
		}
	default:
		t.Fatal("Close returned while a stream's drain still ran (the body is still open)")
	}
}
