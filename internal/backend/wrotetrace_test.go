package backend

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"testing"
	"time"
)

// TestOpenAIStreamTracesRequestWrite: an OpenAI backend on its own
// transport says it reports its request written
// (gateway.RequestWriteTracer), and does: a ClientTrace in the context
// Stream is given hears WroteRequest while the request waits for its
// answer (an upstream that answers only after the hook still serves). A
// transport of the configuration's own kind is not vouched for.
func TestOpenAIStreamTracesRequestWrite(t *testing.T) {
	t.Parallel()
	wrote := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-wrote:
		case <-time.After(10 * time.Second): // hang guard
			http.Error(w, "WroteRequest did not fire while the request was out", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "data: %s\n\n", `{"id":"c1","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}]}`)
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer srv.Close()
	b := NewOpenAI(OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m"})
	defer b.Close()
	if !b.TracesRequestWrite() {
		t.Fatal("TracesRequestWrite() = false on the backend's own transport")
	}
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) {
		select {
		case <-wrote:
		default:
			close(wrote)
		}
	}})
	s, err := b.Stream(ctx, req())
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
	for _, tc := range []struct {
		name string
		rt   http.RoundTripper
		want bool
	}{
		{"net/http transport", &http.Transport{}, true},
		{"another round tripper", roundTripFunc(func(r *http.Request) (*http.Response, error) { return nil, context.Canceled }), false},
	} {
		if got := NewOpenAI(OpenAIConfig{BaseURL: srv.URL, Model: "m", Transport: tc.rt}).TracesRequestWrite(); got != tc.want {
			t.Errorf("%s: TracesRequestWrite() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
