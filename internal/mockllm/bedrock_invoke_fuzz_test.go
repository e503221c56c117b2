package mockllm

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// familyModels are model ids of each InvokeModel family the simulator
// answers in its own shape, with the member its answer always holds.
var familyModels = []struct{ model, key string }{
	{"amazon.titan-text-express-v1", "results"},
	{"mistral.mistral-large-2402-v1:0", "outputs|choices"}, // a prompt completion, or a chat completion for a messages body
	{"mistral.mistral-large-2407-v1:0", "outputs|choices"},
	{"meta.llama3-8b-instruct-v1:0", "generation"},
	{"amazon.nova-lite-v1:0", "output"},
	{"eu.amazon.nova-2-lite-v1:0", "output"},
	{"cohere.command-r-v1:0", "generation_id"},
}

// FuzzBedrockInvokeFamilies feeds arbitrary bodies to each family's
// InvokeModel decoder through the handler: a refusal is a 400
// ValidationException with a bounded message; an answer is JSON in the
// family's shape whose output token count respects the body's limit; a
// stream's chunks are JSON and the last carries the invocation metrics.
func FuzzBedrockInvokeFamilies(f *testing.F) {
	for _, s := range []string{
		`{"inputText":"hi","textGenerationConfig":{"maxTokenCount":3,"stopSequences":["x"]}}`,
		`{"inputText":"","textGenerationConfig":{"maxTokenCount":-1}}`,
		`{"prompt":"<s>[INST] hi [/INST]","max_tokens":2,"stop":["."]}`,
		`{"prompt":"hi","max_gen_len":2}`,
		`{"schemaVersion":"messages-v1","messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":2}}`,
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"additionalModelRequestFields":{"thinking":{"type":"enabled"}}}`,
		`{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}`,
		`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"max_new_tokens":2},"reasoningConfig":{"type":"enabled","maxReasoningEffort":"high"}}`,
		`{"message":"hi","chat_history":[{"role":"USER","message":"a"},{"role":"CHATBOT","message":"b"}],"preamble":"p","max_tokens":2,"p":0.5,"k":3}`,
		`{"message":"hi","temperature":1.5}`, `{"prompt":"hi","temperature":-1,"top_p":2}`,
		`{"prompt":7}`, `{"inputText":null}`, `[]`, `null`, `{`,
	} {
		for i := range familyModels {
			f.Add([]byte(s), uint8(i), false)
			f.Add([]byte(s), uint8(i), true)
		}
	}
	h := New(Config{CompletionTokens: 4}).Handler()
	f.Fuzz(func(t *testing.T, body []byte, which uint8, stream bool) {
		fm := familyModels[int(which)%len(familyModels)]
		op := "invoke"
		if stream {
			op = "invoke-with-response-stream"
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/model/"+fm.model+"/"+op, bytes.NewReader(body)))
		if w.Code == http.StatusBadRequest {
			var e struct{ Message string }
			if w.Header().Get("X-Amzn-Errortype") != "ValidationException" || json.Unmarshal(w.Body.Bytes(), &e) != nil || len(e.Message) > 64<<10 {
				t.Fatalf("refusal %s %q", w.Header().Get("X-Amzn-Errortype"), w.Body.Bytes())
			}
			return
		}
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
		}
		if !stream {
			var m map[string]json.RawMessage
			if json.Unmarshal(w.Body.Bytes(), &m) != nil || !slices.ContainsFunc(strings.Split(fm.key, "|"), func(k string) bool { return m[k] != nil }) {
				t.Fatalf("%s answer %q lacks %s", fm.model, w.Body.Bytes(), fm.key)
			}
			var limits struct {
				MaxGenLen, MaxTokens *int
				TextGenerationConfig struct{ MaxTokenCount *int }
			}
			json.Unmarshal(body, &limits)
			out, _ := strconv.Atoi(w.Header().Get("X-Amzn-Bedrock-Output-Token-Count"))
			for _, max := range []*int{limits.MaxGenLen, limits.MaxTokens, limits.TextGenerationConfig.MaxTokenCount} {
				if max != nil && *max > 0 && out > *max && fm.key != "output" {
					t.Fatalf("%s: %d output tokens over a limit of %d", fm.model, out, *max)
				}
			}
			return
		}
		dec := eventstream.NewDecoder()
		r := bytes.NewReader(w.Body.Bytes())
		var last map[string]json.RawMessage
		for r.Len() > 0 {
			msg, err := dec.Decode(r, nil)
			if err != nil {
				t.Fatalf("frame: %v", err)
			}
			var c struct{ Bytes string }
			b, err := base64.StdEncoding.DecodeString(func() string { json.Unmarshal(msg.Payload, &c); return c.Bytes }())
			if err != nil || json.Unmarshal(b, &last) != nil {
				t.Fatalf("chunk %q is not base64 JSON", msg.Payload)
			}
		}
		if last["amazon-bedrock-invocationMetrics"] == nil {
			t.Fatalf("%s: last chunk %v has no invocation metrics", fm.model, last)
		}
	})
}
