package mockllm_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// Embed a simulated model in a test: mount its handler on an httptest
// server, point an OpenAI client (or the gateway's backend adapter) at
// URL+"/v1", and drive it with the run-time controls.
func Example() {
	srv := mockllm.New(mockllm.Config{Models: []string{"chat-small"}, RPM: 600, Seed: 1})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	body := `{"model":"chat-small","max_tokens":6,"messages":[{"role":"user","content":"Hello"}]}`
	resp, _ := http.Post(hs.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("X-Ratelimit-Remaining-Requests"))
	fmt.Println(string(b[strings.Index(string(b), `"message"`):strings.Index(string(b), `,"system_fingerprint"`)]))

	srv.SetThrottled(5 * time.Second) // every request now gets 429
	resp, _ = http.Post(hs.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
	resp.Body.Close()
	fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get(mockllm.HeaderThrottleReason))
	fmt.Printf("%+v\n", srv.Stats())
	// Output:
	// 200 599
	// "message":{"role":"assistant","content":"West reads winter reads simple model","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":6,"completion_tokens":6,"total_tokens":12}
	// 429 5 manual
	// {Requests:2 Served:1 InFlight:0 Throttled:1 Failed:0 Invalid:0 Canceled:0 PromptTokens:6 CompletionTokens:6}
}
