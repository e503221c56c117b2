package mockllm_test

import (
	"bytes"
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

// TestJSONMode: response_format json_object carries no schema, so the
// answer follows the format the conversation writes down, as LangChain's
// jsonMode expects (its schema lives only in its parser): the last JSON
// schema in the text is answered with an instance of it, an example
// object in its shape; with neither, an object with the answer. The
// Bedrock face answers the open schema json_object becomes there the same
// way.
func TestJSONMode(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{})
	str := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	// The format instructions LangChain's StructuredOutputParser writes:
	// an example schema first, the real one last.
	instructions := "You must format your output as a JSON value that adheres to a given \"JSON Schema\" instance.\n" +
		`For example, the example "JSON Schema" instance {"properties": {"foo": {"type": "array", "items": {"type": "string"}}}, "required": ["foo"]}` + "\n" +
		"would match an object with one required property, \"foo\".\n\nHere is the JSON Schema instance your output must adhere to:\n```json\n" +
		`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"number"}},"required":["name","age"]}` + "\n```\n"
	for _, tc := range []struct {
		name, system, user string
		want               string
	}{
		{"schema in the instructions", instructions, "Alice is 30", `{"age":1.5,"name":"mock"}`},
		{"example object", "Answer as JSON like {\"city\": \"Paris\", \"temp\": 21}.", "Weather?", `{"city":"Paris","temp":21}`},
		{"no format in the prompt", "Be brief.", "Alice is 30", `answer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := `"messages":[{"role":"system","content":` + str(tc.system) + `},{"role":"user","content":` + str(tc.user) + `}]`
			_, b := post(t, t.Context(), url, `{"model":"m","response_format":{"type":"json_object"},`+msgs+`}`)
			var out struct {
				Choices []struct{ Message struct{ Content string } }
			}
			if json.Unmarshal(b, &out) != nil || len(out.Choices) != 1 {
				t.Fatalf("%s", b)
			}
			got := out.Choices[0].Message.Content
			var v map[string]any
			if err := json.Unmarshal([]byte(got), &v); err != nil {
				t.Fatalf("content %q is not a JSON object: %v", got, err)
			}
			if tc.want == "answer" {
				if _, ok := v["answer"].(string); !ok || len(v) != 1 {
					t.Fatalf("content %s, want {\"answer\": ...}", got)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("content %s, want %s", got, tc.want)
			}
			// The Bedrock face: OpenAI's json_object reaches Converse as the
			// schema {"type":"object"}.
			body := `{"system":[{"text":` + str(tc.system) + `}],"messages":[{"role":"user","content":[{"text":` + str(tc.user) + `}]}],` +
				`"outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"name":"x","schema":"{\"type\":\"object\"}"}}}}}`
			resp, err := http.Post(url+"/model/anthropic.claude-sonnet-4-5/converse", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var c struct {
				Output struct {
					Message struct{ Content []struct{ Text string } }
				}
			}
			if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || len(c.Output.Message.Content) != 1 || c.Output.Message.Content[0].Text != tc.want {
				t.Fatalf("converse: %d %+v %v, want %s", resp.StatusCode, c, err, tc.want)
			}
		})
	}
}

// TestTopLogprobs: top_logprobs N gives, at every position, N candidates,
// most likely first, the sampled token first among them; every token
// lists its UTF-8 bytes; the same request gives the same candidates.
// Streamed chunks carry them too; N outside 0..20 is refused as OpenAI
// refuses it.
func TestTopLogprobs(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{Seed: 7})
	type cand struct {
		Token   string
		Logprob float64
		Bytes   []int
	}
	type pos struct {
		cand
		TopLogprobs []cand `json:"top_logprobs"`
	}
	check := func(what string, content []pos, n int) {
		t.Helper()
		if len(content) == 0 {
			t.Fatalf("%s: no logprobs", what)
		}
		for i, p := range content {
			if len(p.TopLogprobs) != n {
				t.Fatalf("%s: position %d has %d top_logprobs, want %d", what, i, len(p.TopLogprobs), n)
			}
			if string(intsToBytes(p.Bytes)) != p.Token {
				t.Fatalf("%s: position %d bytes %v are not %q", what, i, p.Bytes, p.Token)
			}
			seen := map[string]bool{}
			for j, c := range p.TopLogprobs {
				if j == 0 && (c.Token != p.Token || c.Logprob != p.Logprob) {
					t.Fatalf("%s: position %d's first candidate %+v is not the token %+v", what, i, c, p.cand)
				}
				if j > 0 && c.Logprob >= p.TopLogprobs[j-1].Logprob {
					t.Fatalf("%s: position %d's candidates are not most likely first: %+v", what, i, p.TopLogprobs)
				}
				if seen[c.Token] || string(intsToBytes(c.Bytes)) != c.Token {
					t.Fatalf("%s: position %d: candidate %+v repeated or with wrong bytes", what, i, c)
				}
				seen[c.Token] = true
			}
		}
	}
	body := `{"model":"m","logprobs":true,"top_logprobs":3,"max_tokens":12,"messages":[{"role":"user","content":"hi"}]}`
	var out struct {
		Choices []struct {
			Logprobs struct{ Content []pos }
		}
	}
	_, b := post(t, t.Context(), url, body)
	if err := json.Unmarshal(b, &out); err != nil || len(out.Choices) != 1 {
		t.Fatalf("%s: %v", b, err)
	}
	check("answer", out.Choices[0].Logprobs.Content, 3)
	first := mustJSON(t, out.Choices[0].Logprobs.Content)
	_, again := post(t, t.Context(), url, body)
	if err := json.Unmarshal(again, &out); err != nil || !bytes.Equal(mustJSON(t, out.Choices[0].Logprobs.Content), first) {
		t.Errorf("the same request gave other candidates:\n%s\n%s", b, again)
	}
	_, b = post(t, t.Context(), url, strings.Replace(body, `"top_logprobs":3`, `"top_logprobs":0`, 1))
	out.Choices = nil
	json.Unmarshal(b, &out)
	check("top_logprobs 0", out.Choices[0].Logprobs.Content, 0)

	_, b = post(t, t.Context(), url, strings.Replace(body, `"model"`, `"stream":true,"model"`, 1))
	var streamed []pos
	for _, line := range strings.Split(string(b), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			Choices []struct {
				Logprobs *struct{ Content []pos }
			}
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		for _, ch := range c.Choices {
			if ch.Logprobs != nil {
				streamed = append(streamed, ch.Logprobs.Content...)
			}
		}
	}
	check("stream", streamed, 3)

	for _, n := range []string{"-1", "21"} {
		resp, b := post(t, t.Context(), url, strings.Replace(body, `"top_logprobs":3`, `"top_logprobs":`+n, 1))
		if e := parseError(t, b); resp.StatusCode != 400 || e.Error.Param == nil || *e.Error.Param != "top_logprobs" {
			t.Errorf("top_logprobs %s: %d %s, want a 400 naming top_logprobs", n, resp.StatusCode, b)
		}
	}
}

func intsToBytes(v []int) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
