package mockllm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// TestBedrockCohereCommandR: a Cohere Command R (or R+) InvokeModel body,
// the chat shape Bedrock documents (message, chat_history, preamble,
// max_tokens, temperature, p, k, stop_sequences, tools, documents), is
// answered in Command R's shape (response_id, text, generation_id,
// chat_history with the new turns, finish_reason; the token count
// headers), and streamed as stream-start, text-generation chunks and a
// stream-end holding the whole answer and the invocation metrics. A body
// without message is refused as Bedrock refuses it.
func TestBedrockCohereCommandR(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{CompletionTokens: 5})
	const body = `{"message":"What is a region?","chat_history":[{"role":"USER","message":"hi"},{"role":"CHATBOT","message":"hello"}],` +
		`"preamble":"Be brief.","max_tokens":50,"temperature":0.3,"p":0.75,"k":50,"stop_sequences":["zz"],` +
		`"tools":[{"name":"lookup","description":"d","parameter_definitions":{"q":{"description":"q","type":"str","required":true}}}],` +
		`"documents":[{"title":"t","snippet":"s"}],"seed":7,"return_prompt":false}`
	for _, model := range []string{"cohere.command-r-v1:0", "cohere.command-r-plus-v1:0"} {
		t.Run(model, func(t *testing.T) {
			resp, err := http.Post(url+"/model/"+model+"/invoke", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var out struct {
				ResponseID   string `json:"response_id"`
				Text         string `json:"text"`
				GenerationID string `json:"generation_id"`
				FinishReason string `json:"finish_reason"`
				ChatHistory  []struct {
					Role    string `json:"role"`
					Message string `json:"message"`
				} `json:"chat_history"`
			}
			if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			if out.Text == "" || out.ResponseID == "" || out.GenerationID == "" || out.FinishReason != "COMPLETE" {
				t.Errorf("answer %s", b)
			}
			var roles []string
			for _, h := range out.ChatHistory {
				roles = append(roles, h.Role+":"+h.Message)
			}
			if d := cmp.Diff([]string{"USER:hi", "CHATBOT:hello", "USER:What is a region?", "CHATBOT:" + out.Text}, roles); d != "" {
				t.Errorf("chat_history (-want +got):\n%s", d)
			}
			if resp.Header.Get("X-Amzn-Bedrock-Input-Token-Count") == "" || resp.Header.Get("X-Amzn-Bedrock-Output-Token-Count") != "5" {
				t.Errorf("token count headers %v", resp.Header)
			}

			resp, err = http.Post(url+"/model/"+model+"/invoke-with-response-stream", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("stream: %d %s", resp.StatusCode, b)
			}
			events := bedrockEvents(t, b)
			var types []string
			var text strings.Builder
			var end map[string]any
			for _, e := range events {
				var ev map[string]any
				if err := json.Unmarshal(e, &ev); err != nil {
					t.Fatal(err)
				}
				types = append(types, ev["event_type"].(string))
				if s, ok := ev["text"].(string); ok {
					text.WriteString(s)
				}
				if ev["event_type"] == "stream-end" {
					end = ev
				}
			}
			if d := cmp.Diff([]string{"stream-start", "text-generation", "text-generation", "text-generation", "text-generation", "text-generation", "stream-end"}, types); d != "" {
				t.Errorf("stream events (-want +got):\n%s", d)
			}
			if end["finish_reason"] != "COMPLETE" || end["is_finished"] != true || end["amazon-bedrock-invocationMetrics"] == nil ||
				end["response"].(map[string]any)["text"] != text.String() {
				t.Errorf("stream-end %v, streamed text %q", end, text.String())
			}
		})
	}
	for _, tc := range []struct{ name, body, msg string }{
		{"no message", `{"prompt":"hi"}`, "Malformed input request: required key [message] not found"},
		{"bad role", `{"message":"hi","chat_history":[{"role":"ASSISTANT","message":"x"}]}`, "#/chat_history/0/role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(url+"/model/cohere.command-r-v1:0/invoke", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" || !strings.Contains(string(b), tc.msg) {
				t.Errorf("%d %s %s, want a ValidationException containing %q", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), b, tc.msg)
			}
		})
	}
}

// TestBedrockSamplingRanges: sampling values out of the range the real
// models take are refused with a ValidationException in Bedrock's words
// (Converse's API constraint for every model; Anthropic's message for a
// Claude body; the JSON-schema message of another family's body), and the
// bounds themselves are served.
func TestBedrockSamplingRanges(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{CompletionTokens: 3})
	converse := func(ic string) string {
		return `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":` + ic + `}`
	}
	anthropic := func(extra string) string {
		return `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10` + extra + `,"messages":[{"role":"user","content":"hi"}]}`
	}
	tests := []struct {
		name, path, body string
		msg              string // "" when served
	}{
		{"Converse Claude temperature 1.7", "/model/anthropic.claude-sonnet-4-5/converse", converse(`{"temperature":1.7}`),
			"1 validation error detected: Value '1.7' at 'inferenceConfig.temperature' failed to satisfy constraint: Member must have value less than or equal to 1"},
		{"ConverseStream Nova topP -0.1", "/model/amazon.nova-pro-v1:0/converse-stream", converse(`{"topP":-0.1}`),
			"Value '-0.1' at 'inferenceConfig.topP' failed to satisfy constraint: Member must have value greater than or equal to 0"},
		{"Converse bounds served", "/model/anthropic.claude-sonnet-4-5/converse", converse(`{"temperature":1,"topP":0}`), ""},
		{"InvokeModel Claude temperature 1.5", "/model/anthropic.claude-sonnet-4-5/invoke", anthropic(`,"temperature":1.5`), "temperature: range: 0..1"},
		{"InvokeModel Claude stream top_p 2", "/model/anthropic.claude-sonnet-4-5/invoke-with-response-stream", anthropic(`,"top_p":2`), "top_p: range: 0..1"},
		{"InvokeModel Claude top_k -1", "/model/anthropic.claude-sonnet-4-5/invoke", anthropic(`,"top_k":-1`), "top_k: range: 0.."},
		{"InvokeModel Claude in range", "/model/anthropic.claude-sonnet-4-5/invoke", anthropic(`,"temperature":0.5,"top_k":250`), ""},
		{"InvokeModel Claude top_k 500", "/model/anthropic.claude-sonnet-4-5/invoke", anthropic(`,"top_k":500`), ""},
		{"InvokeModel Claude top_k 501", "/model/anthropic.claude-sonnet-4-5/invoke", anthropic(`,"top_k":501`), "top_k: range: 0..500"},
		{"Llama temperature 1.2", "/model/meta.llama3-8b-instruct-v1:0/invoke", `{"prompt":"hi","temperature":1.2}`,
			"Malformed input request: #/temperature: 1.2 is not less or equal to 1"},
		{"Titan topP 1.5", "/model/amazon.titan-text-express-v1/invoke", `{"inputText":"hi","textGenerationConfig":{"topP":1.5}}`,
			"#/textGenerationConfig/topP: 1.5 is not less or equal to 1"},
		{"Cohere p 1", "/model/cohere.command-r-v1:0/invoke", `{"message":"hi","p":1}`, "#/p: 1 is not less or equal to 0.99"},
		{"Cohere k 501", "/model/cohere.command-r-v1:0/invoke", `{"message":"hi","k":501}`, "#/k: 501 is not less or equal to 500"},
		{"Mistral temperature 0.7", "/model/mistral.mistral-large-2407-v1:0/invoke", `{"prompt":"hi","temperature":0.7}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(url+tc.path, "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.msg == "" {
				if resp.StatusCode != 200 {
					t.Errorf("%d %s, want 200", resp.StatusCode, b)
				}
				return
			}
			var e struct {
				Message string `json:"message"`
			}
			json.Unmarshal(b, &e)
			if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("%d %s %s, want a ValidationException containing %q", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), b, tc.msg)
			}
		})
	}
}
