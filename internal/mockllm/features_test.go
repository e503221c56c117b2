package mockllm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// TestRichAnswers: n choices, logprobs, reasoning content and structured
// output, each as a client of the OpenAI API expects it.
func TestRichAnswers(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{})
	msgs := `"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}]`
	var out struct {
		Choices []struct {
			Message struct {
				Content          string
				ReasoningContent string `json:"reasoning_content"`
			}
			Logprobs *struct{ Content []struct{ Token string } }
		}
		Usage struct {
			CompletionTokensDetails struct {
				ReasoningTokens int `json:"reasoning_tokens"`
			} `json:"completion_tokens_details"`
		}
	}
	resp, b := post(t, t.Context(), url, `{"model":"m","n":3,"logprobs":true,"reasoning_effort":"low",`+msgs+`}`)
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || len(out.Choices) != 3 {
		t.Fatalf("n=3: %d %s", resp.StatusCode, b)
	}
	for i, c := range out.Choices {
		if c.Message.Content == "" || c.Message.ReasoningContent == "" || c.Logprobs == nil || len(c.Logprobs.Content) == 0 {
			t.Errorf("choice %d = %+v, want content, reasoning and logprobs", i, c)
		}
	}
	if out.Usage.CompletionTokensDetails.ReasoningTokens == 0 {
		t.Error("no reasoning tokens in usage")
	}
	// reasoning_effort none asks for no reasoning: none is produced.
	out.Choices, out.Usage.CompletionTokensDetails.ReasoningTokens = nil, 0
	resp, b = post(t, t.Context(), url, `{"model":"m","reasoning_effort":"none",`+msgs+`}`)
	if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil || len(out.Choices) != 1 {
		t.Fatalf("reasoning_effort none: %d %s", resp.StatusCode, b)
	}
	if out.Choices[0].Message.ReasoningContent != "" || out.Usage.CompletionTokensDetails.ReasoningTokens != 0 {
		t.Errorf("reasoning_effort none: reasoning %q, %d tokens; want none", out.Choices[0].Message.ReasoningContent, out.Usage.CompletionTokensDetails.ReasoningTokens)
	}
	schema := `{"type":"object","required":["ok","items"],"properties":{"ok":{"type":"boolean"},"items":{"type":"array","minItems":2,"items":{"type":"string","enum":["a","b"]}}}}`
	_, b = post(t, t.Context(), url, `{"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":`+schema+`}},`+msgs+`}`)
	var so struct {
		Choices []struct{ Message struct{ Content string } }
	}
	json.Unmarshal(b, &so)
	var v struct {
		OK    *bool
		Items []string
	}
	if len(so.Choices) != 1 || json.Unmarshal([]byte(so.Choices[0].Message.Content), &v) != nil || v.OK == nil || len(v.Items) != 2 || v.Items[0] != "a" {
		t.Errorf("structured output %s does not validate", b)
	}
}

// TestRichStreamToolCallDeltas: tool calls stream as deltas: the call's id
// and name first, then its arguments in pieces, then finish_reason
// tool_calls.
func TestRichStreamToolCallDeltas(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{})
	_, b := post(t, t.Context(), url, `{"model":"m","stream":true,"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}],"messages":[{"role":"user","content":"x"}]}`)
	var args strings.Builder
	var name, finish string
	for _, line := range strings.Split(string(b), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Delta struct {
					ToolCalls []struct {
						Function struct{ Name, Arguments string }
					} `json:"tool_calls"`
				}
				FinishReason *string `json:"finish_reason"`
			}
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		for _, ch := range c.Choices {
			for _, tc := range ch.Delta.ToolCalls {
				name += tc.Function.Name
				args.WriteString(tc.Function.Arguments)
			}
			if ch.FinishReason != nil {
				finish = *ch.FinishReason
			}
		}
	}
	if name != "f" || args.String() != `{"q":"mock"}` || finish != "tool_calls" {
		t.Fatalf("streamed call %q(%s) finish %q", name, args.String(), finish)
	}
}

// TestBedrockShapeThrottle: the Bedrock routes answer a throttled model
// with Bedrock's 429 (x-amzn-ErrorType ThrottlingException, Retry-After).
func TestBedrockShapeThrottle(t *testing.T) {
	t.Parallel()
	s, url := start(t, mockllm.Config{})
	s.SetThrottled(3 * time.Second)
	resp, err := http.Post(url+"/model/m/converse", "application/json", strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 429 || resp.Header.Get("X-Amzn-Errortype") != "ThrottlingException" || resp.Header.Get("Retry-After") != "3" || !strings.Contains(string(b), `"message"`) {
		t.Fatalf("throttled converse: %d %v %s", resp.StatusCode, resp.Header, b)
	}
}
