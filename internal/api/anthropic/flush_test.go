package anthropic

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/inference/inferencetest"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// pipeServer serves the Messages API of a one-region gateway whose model m
// streams from events, over a real socket, counting flushes.
func pipeServer(t *testing.T, events inferencetest.ChanStream, flushes *atomic.Int64) (*httptest.Server, string) {
	t.Helper()
	key, _ := auth.NewKey()
	cfg, err := topology.Parse(fmt.Appendf(nil, `account: "111122223333"
geographies: { eu: { name: EU } }
regions: [ { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" } ]
models: [ { id: m, context_window: 8192 } ]
deployments: [ { model: m, region: eu-west-1, backend: { type: mock } } ]
principals: [ { id: p, api_keys: [%q] } ]
`, auth.HashKey(key)), "anthropic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Options{Region: "eu-west-1", Config: cfg, Authorizer: gateway.AllowAll{}, Backends: map[string]gateway.Backend{"m": &inferencetest.ChanBackend{Events: events}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(g, Options{}).Register(mux)
	srv := httptest.NewServer(inferencetest.CountFlushes(mux, flushes))
	t.Cleanup(srv.Close)
	return srv, key
}

const streamBody = `{"model":"eu.m","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hello"}]}`

func postStream(t *testing.T, srv *httptest.Server, key string) *http.Response {
	t.Helper()
	r, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/v1/messages", strings.NewReader(streamBody))
	r.Header.Set("x-api-key", key)
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return resp
}

// TestStreamFlushesBeforeWaiting: the Messages front end writes a stream's
// events as they come and flushes before a Recv that may wait. Events that
// are already here leave together; an event is never held back waiting for
// the next (a front end that held one would stall the one-by-one case).
func TestStreamFlushesBeforeWaiting(t *testing.T) {
	t.Parallel()
	t.Run("together", func(t *testing.T) {
		t.Parallel()
		var flushes atomic.Int64
		events := make(inferencetest.ChanStream, 8)
		for _, ev := range []inference.Event{{Kind: inference.EventStart}, {Kind: inference.EventDelta, Text: "a"},
			{Kind: inference.EventDelta, Text: "b"}, {Kind: inference.EventDelta, Text: "c"}, {Kind: inference.EventStop}} {
			events <- ev
		}
		close(events)
		srv, key := pipeServer(t, events, &flushes)
		body, err := io.ReadAll(postStream(t, srv, key).Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"a", "b", "c"} {
			if !strings.Contains(string(body), `"text":"`+w+`"`) {
				t.Fatalf("body %q lacks %q", body, w)
			}
		}
		if !strings.Contains(string(body), "event: message_stop") {
			t.Fatalf("body %q lacks message_stop", body)
		}
		if got := flushes.Load(); got > 2 {
			t.Errorf("five events that were all here took %d flushes, want at most 2", got)
		}
	})
	t.Run("one by one", func(t *testing.T) {
		t.Parallel()
		var flushes atomic.Int64
		events := make(inferencetest.ChanStream, 8)
		srv, key := pipeServer(t, events, &flushes)
		events <- inference.Event{Kind: inference.EventStart}
		events <- inference.Event{Kind: inference.EventDelta, Text: "w0"}
		sc := bufio.NewScanner(postStream(t, srv, key).Body)
		words := []string{"w0", "w1", "w2", "w3"}
		next := 1
		for sc.Scan() {
			if next <= len(words) && strings.Contains(sc.Text(), `"text":"`+words[next-1]+`"`) {
				if next == len(words) {
					close(events)
				} else {
					events <- inference.Event{Kind: inference.EventDelta, Text: words[next]}
				}
				next++
			}
		}
		if next != len(words)+1 {
			t.Errorf("the client read %d of %d words", next-1, len(words))
		}
	})
}
