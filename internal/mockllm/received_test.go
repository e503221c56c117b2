package mockllm_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// TestReceivedSeesEveryBody: Config.Received is handed the path and the
// bytes of every request body the simulator reads, whatever its face, so
// that a test can check what reached the model.
func TestReceivedSeesEveryBody(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string]string{}
	_, url := start(t, mockllm.Config{Received: func(path string, body []byte) {
		mu.Lock()
		defer mu.Unlock()
		got[path] = string(body)
	}})
	tests := []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}],"x_vendor":{"keep":1}}`},
		{"/v1/embeddings", `{"model":"m","input":"hi","x_vendor":2}`},
		{"/model/amazon.nova-pro-v1:0/converse", `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"requestMetadata":{"team":"a"}}`},
	}
	for _, tc := range tests {
		resp, err := http.Post(url+tc.path, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("POST %s: status %d", tc.path, resp.StatusCode)
		}
		mu.Lock()
		if got[tc.path] != tc.body {
			t.Errorf("Received(%s) = %q, want %q", tc.path, got[tc.path], tc.body)
		}
		mu.Unlock()
	}
}
