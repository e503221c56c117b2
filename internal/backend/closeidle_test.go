package backend

import (
	"net/http"
	"testing"
)

// TestOpenAICloseIdleConnections: the backend's idle connections to its
// upstream are closed on request and the backend stays usable: the next
// request dials a new connection, where without the call it reuses the
// pooled one.
func TestOpenAICloseIdleConnections(t *testing.T) {
	t.Parallel()
	srv, conns := countingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`))
	}))
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m"})
	defer b.Close()
	complete := func() {
		t.Helper()
		if _, err := b.Complete(t.Context(), req()); err != nil {
			t.Fatal(err)
		}
	}
	complete()
	complete()
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for two requests in a row, want the pooled one reused", n)
	}
	b.CloseIdleConnections()
	complete()
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections after CloseIdleConnections and a request, want a new one (2)", n)
	}
}
