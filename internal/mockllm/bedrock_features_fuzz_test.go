package mockllm

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// FuzzBedrockChatRequest feeds arbitrary bodies to the Converse and
// Anthropic decoders and serves those they accept, checking what tool
// choice and thinking promise: the answer calls only offered tools, at
// most one when a tool is forced or parallel use is disabled, and that
// one the forced tool; none for tool_choice none; a refusal is a 400
// ValidationException with a bounded message; an answer is JSON.
func FuzzBedrockChatRequest(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"a","inputSchema":{"json":{"type":"object"}}}},{"toolSpec":{"name":"b","inputSchema":{"json":{}}}}],"toolChoice":{"tool":{"name":"b"}}}}`,
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"a"}}],"toolChoice":{"any":{}}},"additionalModelRequestFields":{"thinking":{"type":"enabled","budget_tokens":1024}}}`,
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"additionalModelRequestFields":{"reasoningConfig":{"type":"enabled"},"reasoning_config":null}}`,
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"toolConfig":{"tools":[],"toolChoice":{"auto":{},"tool":{}}}}`,
		`{"anthropic_version":"bedrock-2023-05-31","max_tokens":9,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a","input_schema":{"type":"object"}},{"name":"b"}],"tool_choice":{"type":"any","disable_parallel_tool_use":true}}`,
		`{"max_tokens":9,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a"}],"tool_choice":{"type":"none"},"thinking":{"type":"enabled","budget_tokens":2048}}`,
		`{"max_tokens":9,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"a"}],"tool_choice":{"type":"tool","name":"c"}}`,
		`{"messages":[{"role":"user","content":"hi"}],"tool_choice":7,"thinking":[]}`,
		`{"messages":[]}`, `null`, `{`,
	} {
		for _, stream := range []bool{false, true} {
			f.Add([]byte(s), true, stream)
			f.Add([]byte(s), false, stream)
		}
	}
	s := New(Config{CompletionTokens: 4})
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body []byte, anthropic, stream bool) {
		if !bytes.Contains(body, []byte(`"messages"`)) {
			return // another family's InvokeModel body (Llama)
		}
		op := "converse"
		decode := decodeConverse
		if anthropic {
			op, decode = "invoke", decodeAnthropic
		}
		req, err := decode("m", body)
		if err != nil {
			return
		}
		calls := req.calls()
		for _, c := range calls {
			if !slices.ContainsFunc(req.tools, func(t bedrockTool) bool { return t.name == c.name }) {
				t.Fatalf("calls tool %q, not offered", c.name)
			}
		}
		switch {
		case req.toolNone && len(calls) > 0:
			t.Fatalf("tool choice none, %d calls", len(calls))
		case req.forced != "" && (len(calls) > 1 || len(calls) == 1 && calls[0].name != req.forced):
			t.Fatalf("forced %q, calls %v", req.forced, calls)
		case req.single && len(calls) > 1:
			t.Fatalf("parallel use disabled, %d calls", len(calls))
		case req.wantsTools() && len(calls) == 0:
			t.Fatalf("wants tools, no calls")
		}
		if stream {
			op += map[bool]string{true: "-with-response-stream", false: "-stream"}[anthropic]
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/model/m/"+op, bytes.NewReader(body)))
		switch {
		case w.Code == http.StatusBadRequest:
			var e struct{ Message string }
			if w.Header().Get("X-Amzn-Errortype") != "ValidationException" || json.Unmarshal(w.Body.Bytes(), &e) != nil || len(e.Message) > 64<<10 {
				t.Fatalf("refusal %s %q", w.Header().Get("X-Amzn-Errortype"), w.Body.Bytes())
			}
		case w.Code != http.StatusOK:
			t.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
		case !stream && !json.Valid(w.Body.Bytes()):
			t.Fatalf("answer is not JSON: %q", w.Body.Bytes())
		}
	})
}
