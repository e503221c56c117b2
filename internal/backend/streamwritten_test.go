package backend

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpenAIStreamWritten: StreamWritten reports the request written
// while it waits for its answer (an upstream that answers only after the
// report still serves), on the backend's own transport and on one of the
// configuration, and a ClientTrace of the caller's still hears the write.
func TestOpenAIStreamWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{name: "own transport"},
		{name: "configured transport", rt: &http.Transport{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wrote := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				select {
				case <-wrote:
				case <-time.After(10 * time.Second): // hang guard
					http.Error(w, "the write was not reported while the request was out", http.StatusBadGateway)
					return
				}
				w.Header().Set("Content-Type", "text/event-stream")
				fmt.Fprintf(w, "data: %s\n\n", `{"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}`)
				io.WriteString(w, "data: [DONE]\n\n")
			}))
			defer srv.Close()
			b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", Transport: tc.rt})
			defer b.Close()
			var once sync.Once
			var callerSaw atomic.Bool
			ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { callerSaw.Store(true) }})
			s, err := b.StreamWritten(ctx, req(), func() { once.Do(func() { close(wrote) }) })
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for {
				if _, err := s.Recv(); err != nil {
					if err != io.EOF {
						t.Fatal(err)
					}
					break
				}
			}
			if !callerSaw.Load() {
				t.Error("the caller's ClientTrace did not hear the write")
			}
		})
	}
}
