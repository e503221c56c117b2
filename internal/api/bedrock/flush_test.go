package bedrock

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
	"github.com/meridian-gateway/meridian/internal/inference/inferencetest"
)

// TestStreamFlushesBeforeWaiting: ConverseStream writes a stream's events
// as they come and flushes before a Recv that may wait. Events that are
// already here leave together; an event is never held back waiting for the
// next (a front end that held one would stall the one-by-one case).
func TestStreamFlushesBeforeWaiting(t *testing.T) {
	t.Parallel()
	// stream sends a ConverseStream request (with a Bedrock API key) to a
	// gateway whose model streams events, counting the response's flushes.
	stream := func(t *testing.T, events inferencetest.ChanStream, flushes *atomic.Int64) io.Reader {
		key, _ := auth.NewKey()
		mux := http.NewServeMux()
		New(gatewaytest.OneRegion(t, key, &inferencetest.ChanBackend{Events: events}), Options{DataDir: t.TempDir()}).Register(mux)
		srv := httptest.NewServer(inferencetest.CountFlushes(mux, flushes))
		t.Cleanup(srv.Close)
		r, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/model/eu.m/converse-stream",
			strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"hello"}]}]}`))
		r.Header.Set("Authorization", "Bearer "+key)
		r.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		return resp.Body
	}
	t.Run("together", func(t *testing.T) {
		t.Parallel()
		var flushes atomic.Int64
		events := inferencetest.AllHere()
		body, err := io.ReadAll(stream(t, events, &flushes))
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{`"text":"a"`, `"text":"b"`, `"text":"c"`, "messageStop"} {
			if !strings.Contains(string(body), w) {
				t.Fatalf("body %q lacks %s", body, w)
			}
		}
		// One flush when the channel runs dry; the handler's return
		// flushes the rest.
		if got := flushes.Load(); got > 2 {
			t.Errorf("five events that were all here took %d flushes, want at most 2", got)
		}
	})
	t.Run("one by one", func(t *testing.T) {
		t.Parallel()
		var flushes atomic.Int64
		events := make(inferencetest.ChanStream, 8)
		ls := inferencetest.NewLockstep(events, []string{"w0", "w1", "w2", "w3"}, func(w string) string { return `"text":"` + w + `"` })
		body := stream(t, events, &flushes)
		dec := eventstream.NewDecoder()
		for {
			m, err := dec.Decode(body, nil)
			if err != nil {
				break // io.EOF at the stream's end
			}
			ls.Seen(string(m.Payload))
		}
		if seen, all := ls.Done(); !all {
			t.Errorf("the client saw %d words, not all", seen)
		}
	})
}
