package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestDrainTimeoutCutsStreams: a stream still running when the drain
// timeout passes is cut through its normal path: Shutdown returns nil (the
// drain did its job: exit 0), and the stream's own audit event carries the
// usage it delivered, its attempt and errorCode "shutdown", never the
// crash-recovery path's "interrupted" event with no usage.
func TestDrainTimeoutCutsStreams(t *testing.T) {
	sent := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat-small","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`+"\n\n")
		for range 5 {
			fmt.Fprint(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat-small","choices":[{"index":0,"delta":{"content":"token token "}}]}`+"\n\n")
		}
		w.(http.Flusher).Flush()
		close(sent)
		<-r.Context().Done() // a model that has more to say: ends when the node cancels the call
	}))
	t.Cleanup(up.Close)
	key, _ := auth.NewKey()
	y := fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
server: { drain_timeout: 2s }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [ { id: demo.chat-small } ]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: openai, url: %q, model: chat-small } }
principals:
  - { id: alice, api_keys: [%q], limits: { tpm: 100000 } }
`, up.URL+"/v1", auth.HashKey(key))
	cfg, err := topology.Parse([]byte(y), "drain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	auditDir := t.TempDir()
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	nd, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll, AuditDir: auditDir, DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+cl.Addr().String()+"/v1/chat/completions", strings.NewReader(chatBody("demo.chat-small", true)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	id := resp.Header.Get("X-Meridian-Request-Id")
	// Read until the five deltas arrived: the stream is in flight.
	br := bufio.NewReader(resp.Body)
	for deltas := 0; deltas < 5; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended early: %v", err)
		}
		if strings.Contains(line, "token token") {
			deltas++
		}
	}
	<-sent

	// The drain timeout has passed (a deadline in the past: no waiting).
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	if err := nd.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after a drain that cut a stream = %v, want nil (exit 0)", err)
	}
	// The client's stream ends with the shutdown's in-stream error, not a
	// model time-out (the backend's read was cancelled by the cut).
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), `"code":"shutdown"`) || strings.Contains(string(rest), "did not answer in time") {
		t.Errorf("the cut stream's end = %q, want an error event with code shutdown", rest)
	}

	var events []*audit.Event
	if err := audit.Query(auditDir, audit.Filter{}, func(e *audit.Event) error {
		if e.EventID == id {
			events = append(events, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d events for %s, want exactly 1", len(events), id)
	}
	e := events[0]
	if e.ErrorCode != "shutdown" || e.Usage.OutputTokens <= 0 || e.Usage.InputTokens <= 0 || len(e.Attempts) != 1 || e.InferenceRegion != "eu-west-1" {
		t.Errorf("event: errorCode %q usage %+v attempts %d inference %q; want shutdown, the delivered usage, 1 attempt, eu-west-1",
			e.ErrorCode, e.Usage, len(e.Attempts), e.InferenceRegion)
	}
}

// TestDrainCutAnswersShutdown: a request the drain timeout cuts before
// its first byte gets one answer on every API, streamed or not: 503 with
// Retry-After, in the API's error shape, saying the node is shutting
// down (before, a stream got 408 "the model did not answer in time" and
// a plain call 503 "request cancelled"); its audit event has status 503,
// errorCode shutdown and its attempt's outcome shutdown. The WARN line
// gives drain_timeout as a duration ("2s"), not nanoseconds.
func TestDrainCutAnswersShutdown(t *testing.T) {
	const calls = 5
	arrived, release := make(chan struct{}, calls), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		// A model that never answers: ends when the node's call goes
		// away, or when the test ends.
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(up.Close)
	t.Cleanup(func() { close(release) }) // runs before up.Close
	key, _ := auth.NewKey()
	y := fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
server: { drain_timeout: 2s }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [ { id: demo.chat-small } ]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: openai, url: %q, model: chat-small } }
principals:
  - { id: alice, api_keys: [%q] }
`, up.URL+"/v1", auth.HashKey(key))
	cfg, err := topology.Parse([]byte(y), "drain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	auditDir := t.TempDir()
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	var logs lockedBuffer
	nd, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll, AuditDir: auditDir, DataDir: t.TempDir(),
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	base := "http://" + cl.Addr().String()
	tests := []struct {
		name, path, body string
		header           map[string]string
		// check inspects the answer's body and headers (its status is
		// checked for every case).
		check func(h http.Header, body string) string
	}{
		{"openai stream", "/v1/chat/completions", chatBody("demo.chat-small", true), nil, openAIShutdown},
		{"openai", "/v1/chat/completions", chatBody("demo.chat-small", false), nil, openAIShutdown},
		{"anthropic", "/v1/messages", `{"model":"demo.chat-small","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"anthropic-version": "2023-06-01"}, func(h http.Header, body string) string {
				if !strings.Contains(body, `"overloaded_error"`) || !strings.Contains(body, "shutting down") {
					return "not an Anthropic overloaded_error saying the node is shutting down"
				}
				return ""
			}},
		{"anthropic stream", "/v1/messages", `{"model":"demo.chat-small","max_tokens":8,"stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			map[string]string{"anthropic-version": "2023-06-01"}, func(h http.Header, body string) string {
				if !strings.Contains(body, `"overloaded_error"`) || !strings.Contains(body, "shutting down") {
					return "not an Anthropic overloaded_error saying the node is shutting down"
				}
				return ""
			}},
		{"bedrock converse", "/model/demo.chat-small/converse", `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":8}}`,
			nil, func(h http.Header, body string) string {
				if h.Get("X-Amzn-Errortype") != "ServiceUnavailableException" || !strings.Contains(body, `"message":"the node is shutting down`) {
					return "not Bedrock's ServiceUnavailableException saying the node is shutting down"
				}
				return ""
			}},
	}
	if len(tests) != calls {
		t.Fatalf("%d cases, %d expected arrivals", len(tests), calls)
	}
	type answer struct {
		status int
		h      http.Header
		body   string
		err    error
	}
	answers := make([]chan answer, len(tests))
	for i, tc := range tests {
		answers[i] = make(chan answer, 1)
		req, _ := http.NewRequest("POST", base+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				answers[i] <- answer{err: err}
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			answers[i] <- answer{resp.StatusCode, resp.Header, string(b), err}
		}()
	}
	for range calls { // every call is at the upstream, before its first byte
		<-arrived
	}

	// The drain timeout has passed (a deadline in the past: no waiting).
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	if err := nd.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown = %v, want nil", err)
	}

	ids := map[string]string{}
	for i, tc := range tests {
		a := <-answers[i]
		if a.err != nil {
			t.Errorf("%s: %v", tc.name, a.err)
			continue
		}
		if a.status != http.StatusServiceUnavailable || a.h.Get("Retry-After") == "" {
			t.Errorf("%s: %d Retry-After %q, want 503 with Retry-After: %s", tc.name, a.status, a.h.Get("Retry-After"), a.body)
		}
		if why := tc.check(a.h, a.body); why != "" {
			t.Errorf("%s: %s: %s", tc.name, why, a.body)
		}
		if id := a.h.Get("X-Meridian-Request-Id"); id != "" {
			ids[id] = tc.name
		} else {
			t.Errorf("%s: no x-meridian-request-id", tc.name)
		}
	}
	err = audit.Query(auditDir, audit.Filter{}, func(e *audit.Event) error {
		name, ok := ids[e.EventID]
		if !ok {
			return nil
		}
		delete(ids, e.EventID)
		last := ""
		if len(e.Attempts) > 0 {
			last = e.Attempts[len(e.Attempts)-1].Outcome
		}
		if e.StatusCode != 503 || e.ErrorCode != "shutdown" || last != "shutdown" {
			t.Errorf("%s: event status %d errorCode %q last attempt %q, want 503, shutdown, shutdown", name, e.StatusCode, e.ErrorCode, last)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, name := range ids {
		t.Errorf("%s: no audit event %s", name, id)
	}
	if out := logs.String(); !strings.Contains(out, `"drain_timeout":"2s"`) {
		t.Errorf("the WARN line does not give drain_timeout as 2s:\n%s", out)
	}
}

// openAIShutdown checks OpenAI's error shape of the shutdown answer.
func openAIShutdown(h http.Header, body string) string {
	var v struct {
		Error struct{ Message, Type, Code string }
	}
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.Error.Code != "shutdown" || v.Error.Type != "server_error" || !strings.Contains(v.Error.Message, "shutting down") {
		return "not an OpenAI error with code shutdown"
	}
	return ""
}
