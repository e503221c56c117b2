package anthropic_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// post sends body to path on region's node with the given headers.
func (c *cluster) post(t *testing.T, region, method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, c.url(region)+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

const hello = `{"model":"eu.demo.br","max_tokens":16,"messages":[{"role":"user","content":"Hello"}]}`

// TestMessagesWire: what curl sees: both ways of sending the key, the
// anthropic-version header optional, request-id on every answer, the SSE
// event names in Anthropic's order with a ping, and errors in Anthropic's
// shape.
func TestMessagesWire(t *testing.T) {
	c := startCluster(t)
	type errShape struct {
		Type  string `json:"type"`
		Error struct {
			Type, Message string
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	tests := []struct {
		name   string
		body   string
		hdr    map[string]string
		status int
		errTyp string // "" for a success
		msgHas string
	}{
		{"x-api-key", hello, map[string]string{"x-api-key": c.key, "anthropic-version": "2023-06-01"}, 200, "", ""},
		{"bearer", hello, map[string]string{"Authorization": "Bearer " + c.key}, 200, "", ""},
		{"no key", hello, nil, 401, "authentication_error", `send an API key as "x-api-key: <key>"`},
		{"an empty x-api-key", hello, map[string]string{"x-api-key": ""}, 401, "authentication_error", `"x-api-key: <key>"`},
		{"beta header to bedrock", hello, map[string]string{"x-api-key": c.key, "anthropic-beta": "token-efficient-tools-2025-02-19"}, 200, "", ""},
		{"beta header to openai", strings.Replace(hello, "demo.br", "demo.oa", 1), map[string]string{"x-api-key": c.key, "anthropic-beta": "token-efficient-tools-2025-02-19"}, 400, "invalid_request_error", "anthropic_beta"},
		{"no model", `{"max_tokens":16,"messages":[{"role":"user","content":"Hello"}]}`, map[string]string{"x-api-key": c.key}, 400, "invalid_request_error", "model"},
		{"no max_tokens", `{"model":"eu.demo.br","messages":[{"role":"user","content":"Hello"}]}`, map[string]string{"x-api-key": c.key}, 400, "invalid_request_error", "max_tokens"},
		{"not json", `{"model":`, map[string]string{"x-api-key": c.key}, 400, "invalid_request_error", "JSON"},
		{"anthropic_version in the body", `{"model":"eu.demo.br","anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"Hello"}]}`, map[string]string{"x-api-key": c.key}, 400, "invalid_request_error", "anthropic_version"},
		{"us profile from the EU", strings.Replace(hello, "eu.", "us.", 1), map[string]string{"x-api-key": c.key}, 400, "invalid_request_error", "us"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := c.post(t, "eu-west-1", "POST", "/v1/messages", tc.body, tc.hdr)
			if resp.StatusCode != tc.status || resp.Header.Get("Request-Id") == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
				t.Fatalf("status %d request-id %q content-type %q (%s), want %d", resp.StatusCode, resp.Header.Get("Request-Id"), resp.Header.Get("Content-Type"), b, tc.status)
			}
			if tc.errTyp == "" {
				var m struct{ Type, Model string }
				if json.Unmarshal(b, &m) != nil || m.Type != "message" {
					t.Fatalf("body %s, want a message", b)
				}
				return
			}
			var e errShape
			if err := json.Unmarshal(b, &e); err != nil || e.Type != "error" || e.Error.Type != tc.errTyp || e.RequestID != resp.Header.Get("Request-Id") || !strings.Contains(e.Error.Message, tc.msgHas) {
				t.Fatalf("body %s, want a %s naming %q with the request id", b, tc.errTyp, tc.msgHas)
			}
		})
	}
	t.Run("stream", func(t *testing.T) {
		for _, model := range []string{"eu.demo.br", "eu.demo.oa", "eu.demo.brfar"} {
			body := strings.Replace(strings.Replace(hello, "eu.demo.br", model, 1), `"max_tokens"`, `"stream":true,"max_tokens"`, 1)
			resp, b := c.post(t, "eu-west-1", "POST", "/v1/messages", body, map[string]string{"x-api-key": c.key})
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
				t.Fatalf("%s: status %d content-type %q: %s", model, resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			var names []string
			sc := bufio.NewScanner(strings.NewReader(string(b)))
			for sc.Scan() {
				if n, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
					names = append(names, n)
				}
			}
			got := strings.Join(names, ",")
			if !strings.HasPrefix(got, "message_start,ping,content_block_start,content_block_delta") || !strings.HasSuffix(got, "content_block_stop,message_delta,message_stop") {
				t.Errorf("%s: events %s, want Anthropic's order with a ping", model, got)
			}
			if strings.Contains(string(b), "amazon-bedrock-invocationMetrics") {
				t.Errorf("%s: stream carries Bedrock's invocation metrics: %s", model, b)
			}
		}
	})
}

// TestUnknownPaths: a path no route serves, or a served path asked with
// another method, is answered in the error shape of its API, never with
// Go's plain-text 404.
func TestUnknownPaths(t *testing.T) {
	c := startCluster(t)
	tests := []struct {
		method, path string
		status       int
		shape        string // anthropic, openai, bedrock
		allow        string
	}{
		{"POST", "/v1/messages/batches", 404, "anthropic", ""},
		{"GET", "/v1/messages", 405, "anthropic", "POST"},
		{"GET", "/v1/messages/count_tokens", 405, "anthropic", "POST"},
		{"POST", "/v1/nope", 404, "openai", ""},
		{"GET", "/v1", 404, "openai", ""},
		{"GET", "/model", 404, "bedrock", ""},
		{"GET", "/v1/chat/completions", 405, "openai", "POST"},
		{"DELETE", "/v1/models", 405, "openai", "GET"},
		{"POST", "/model/eu.demo.br/nope", 404, "bedrock", ""},
		{"GET", "/model/eu.demo.br/converse", 405, "bedrock", "POST"},
		{"PUT", "/inference-profiles", 405, "bedrock", "GET, POST"},
		{"GET", "/inference-profiles/a/b", 404, "bedrock", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp, b := c.post(t, "eu-west-1", tc.method, tc.path, "", map[string]string{"x-api-key": c.key})
			if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || resp.Header.Get("Allow") != tc.allow {
				t.Fatalf("status %d content-type %q allow %q (%s), want %d JSON allow %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Allow"), b, tc.status, tc.allow)
			}
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("body %s is not JSON", b)
			}
			switch tc.shape {
			case "anthropic":
				e, _ := v["error"].(map[string]any)
				want := "not_found_error"
				if tc.status == 405 {
					want = "invalid_request_error"
				}
				if v["type"] != "error" || e["type"] != want {
					t.Errorf("body %s, want Anthropic's %s", b, want)
				}
			case "openai":
				if e, _ := v["error"].(map[string]any); e["type"] != "invalid_request_error" || e["message"] == "" {
					t.Errorf("body %s, want OpenAI's error shape", b)
				}
			case "bedrock":
				if resp.Header.Get("X-Amzn-Errortype") == "" || v["message"] == nil {
					t.Errorf("body %s headers %v, want Bedrock's error shape", b, resp.Header)
				}
			}
		})
	}
}

// TestMissingKeyHint: a request without credentials is told to send its
// key as x-api-key, as Anthropic's SDKs do, on both Messages routes; the
// OpenAI API on the same node keeps its Authorization: Bearer hint.
func TestMissingKeyHint(t *testing.T) {
	c := startCluster(t)
	tests := []struct {
		path, want, wantNot string
	}{
		{"/v1/messages", `"x-api-key: <key>" (or "Authorization: Bearer <key>")`, ""},
		{"/v1/messages/count_tokens", `"x-api-key: <key>" (or "Authorization: Bearer <key>")`, ""},
		{"/v1/chat/completions", `"Authorization: Bearer <key>"`, "x-api-key"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			resp, b := c.post(t, "eu-west-1", "POST", tc.path, hello, map[string]string{"Content-Type": "application/json"})
			var e struct {
				Error struct{ Type, Message string } `json:"error"`
			}
			if resp.StatusCode != 401 || json.Unmarshal(b, &e) != nil || !strings.Contains(e.Error.Message, tc.want) ||
				(tc.wantNot != "" && strings.Contains(e.Error.Message, tc.wantNot)) {
				t.Errorf("%d %s, want a 401 whose message says %s", resp.StatusCode, b, tc.want)
			}
		})
	}
}
