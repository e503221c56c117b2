package translate_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestOpenAIRefusals checks that each Chat Completions member neither
// Converse nor Anthropic can express is refused, naming the member, and
// never dropped.
func TestOpenAIRefusals(t *testing.T) {
	t.Parallel()
	base := `"model":"m","messages":[{"role":"user","content":"x"}]`
	tests := []struct {
		name, body, field string
	}{
		{"n", `"n":2`, "n"},
		{"logit_bias", `"logit_bias":{"1":5}`, "logit_bias"},
		{"logprobs", `"logprobs":true`, "logprobs"},
		{"top_logprobs", `"top_logprobs":3`, "top_logprobs"},
		{"seed", `"seed":7`, "seed"},
		{"frequency_penalty", `"frequency_penalty":0.5`, "frequency_penalty"},
		{"presence_penalty", `"presence_penalty":0.5`, "presence_penalty"},
		{"audio", `"audio":{"voice":"alloy","format":"wav"}`, "audio"},
		{"modalities", `"modalities":["text","audio"]`, "modalities[1]"},
		{"prediction", `"prediction":{"type":"content","content":"x"}`, "prediction"},
		{"web_search_options", `"web_search_options":{}`, "web_search_options"},
		{"functions", `"functions":[{"name":"f"}]`, "functions"},
		{"store", `"store":true`, "store"},
		{"prompt_cache_key", `"prompt_cache_key":"k"`, "prompt_cache_key"},
		{"verbosity", `"verbosity":"low"`, "verbosity"},
		{"unknown top-level", `"x_vendor":1`, "x_vendor"},
		{"unknown stream option", `"stream_options":{"include_usage":true,"x":1}`, "stream_options.x"},
		{"reasoning_effort xhigh", `"reasoning_effort":"xhigh"`, "reasoning_effort"},
		{"response_format type", `"response_format":{"type":"grammar"}`, "response_format.type"},
		{"tool type", `"tools":[{"type":"custom","custom":{"name":"c"}}]`, "tools[0].type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var req openai.ChatCompletionRequest
			if err := json.Unmarshal([]byte("{"+base+","+tc.body+"}"), &req); err != nil {
				t.Fatal(err)
			}
			_, errC := translate.OpenAIToConverseRequest(&req, translate.Options{})
			_, errA := translate.OpenAIToAnthropicRequest(&req, translate.Options{})
			for target, err := range map[string]error{"converse": errC, "anthropic": errA} {
				var ue *translate.UnsupportedError
				if !errors.As(err, &ue) || ue.Field != tc.field {
					t.Errorf("%s: translate(%s) = %v, want UnsupportedError for %s", target, tc.body, err, tc.field)
				}
			}
		})
	}
}

// TestMessageRefusals checks member paths inside messages.
func TestMessageRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, field string
	}{
		{"name", `[{"role":"user","name":"ann","content":"x"}]`, "messages[0].name"},
		{"audio part", `[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA==","format":"wav"}}]}]`, "messages[0].content[0].type"},
		{"file id", `[{"role":"user","content":[{"type":"file","file":{"file_id":"file-1"}}]}]`, "messages[0].content[0].file.file_id"},
		{"image detail", `[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,AA==","detail":"low"}}]}]`, "messages[0].content[0].image_url.detail"},
		{"bad arguments", `[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"not json"}}]}]`, "messages[1].tool_calls[0].function.arguments"},
		{"late system", `[{"role":"user","content":"x"},{"role":"system","content":"y"}]`, "messages[1].role"},
		{"reasoning on a user turn", `[{"role":"user","content":"a","reasoning_content":"r"}]`, "messages[0].reasoning_content"},
		{"unknown deep", `[{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}","x":1}}]}]`, "messages[0].tool_calls[0].function.x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var req openai.ChatCompletionRequest
			if err := json.Unmarshal([]byte(`{"model":"m","messages":`+tc.body+`}`), &req); err != nil {
				t.Fatal(err)
			}
			_, errC := translate.OpenAIToConverseRequest(&req, translate.Options{})
			_, errA := translate.OpenAIToAnthropicRequest(&req, translate.Options{})
			for target, err := range map[string]error{"converse": errC, "anthropic": errA} {
				var ue *translate.UnsupportedError
				if !errors.As(err, &ue) || ue.Field != tc.field {
					t.Errorf("%s: translate(%s) = %v, want UnsupportedError for %s", target, tc.body, err, tc.field)
				}
			}
		})
	}
}

// TestRoundTripThroughOtherDialect translates a request to another dialect
// and back: what both can express must come back unchanged.
func TestRoundTripThroughOtherDialect(t *testing.T) {
	t.Parallel()
	t.Run("openai via anthropic", func(t *testing.T) {
		in := `{"model":"gpt-4o","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Weather?"},{"role":"assistant","content":"Checking.","tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"{\"city\":\"Paris\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"18C"}],"tools":[{"type":"function","function":{"name":"w","description":"d","parameters":{"type":"object"}}}],"tool_choice":"auto","max_completion_tokens":4000,"temperature":1,"top_p":0.96,"stop":["END"],"user":"u1","reasoning_effort":"low","parallel_tool_calls":false}`
		var req openai.ChatCompletionRequest
		if err := json.Unmarshal([]byte(in), &req); err != nil {
			t.Fatal(err)
		}
		a, err := translate.OpenAIToAnthropicRequest(&req, translate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		back, err := translate.AnthropicToOpenAIRequest(a, "gpt-4o")
		if err != nil {
			t.Fatal(err)
		}
		assertEquivalent(t, in, back)
	})
	t.Run("anthropic via converse", func(t *testing.T) {
		in := `{"max_tokens":1024,"system":[{"type":"text","text":"Shared.","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"Hi"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s"},{"type":"tool_use","id":"t1","name":"w","input":{"a":1}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":[{"type":"text","text":"ok"}],"is_error":true}]}],"tools":[{"name":"w","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral","ttl":"1h"}}],"tool_choice":{"type":"tool","name":"w"},"thinking":{"type":"enabled","budget_tokens":2048},"top_k":10,"temperature":1,"stop_sequences":["X"]}`
		var req anthropic.Request
		if err := json.Unmarshal([]byte(in), &req); err != nil {
			t.Fatal(err)
		}
		c, err := translate.AnthropicToConverseRequest(&req, translate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		back, err := translate.ConverseToAnthropicRequest(c, translate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		assertEquivalent(t, in, back)
	})
	t.Run("converse via openai", func(t *testing.T) {
		in := `{"system":[{"text":"Be brief."}],"messages":[{"role":"user","content":[{"text":"Look"},{"image":{"format":"jpeg","source":{"bytes":"/9j/4AAQ"}}}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t1","name":"w","input":{"a":1}}}]},{"role":"user","content":[{"toolResult":{"toolUseId":"t1","content":[{"text":"ok"}]}}]}],"inferenceConfig":{"maxTokens":10,"temperature":0.2,"topP":0.3,"stopSequences":["S"]},"toolConfig":{"tools":[{"toolSpec":{"name":"w","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"any":{}}}}`
		var req converse.Request
		if err := json.Unmarshal([]byte(in), &req); err != nil {
			t.Fatal(err)
		}
		o, err := translate.ConverseToOpenAIRequest(&req, "gpt-4o", false)
		if err != nil {
			t.Fatal(err)
		}
		back, err := translate.OpenAIToConverseRequest(o, translate.Options{})
		if err != nil {
			t.Fatal(err)
		}
		assertEquivalent(t, in, back)
	})
}

func assertEquivalent(t *testing.T, want string, got any) {
	t.Helper()
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var w, g any
	json.Unmarshal([]byte(want), &w)
	json.Unmarshal(b, &g)
	wb, _ := json.Marshal(w)
	gb, _ := json.Marshal(g)
	if string(wb) != string(gb) {
		t.Errorf("round trip:\n got  %s\n want %s", gb, wb)
	}
}

// TestUnknownMembersAtAnyDepth checks that translation refuses members the
// schema does not declare wherever they are, naming their path.
func TestUnknownMembersAtAnyDepth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		client translate.Dialect
		body   string
		field  string
	}{
		{"converse tool choice", translate.Converse, `{"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"any":{"x_new":1}}}}`, "toolConfig.toolChoice.any.x_new"},
		{"converse image source", translate.Converse, `{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"AA==","x_src":true}}}]}]}`, "messages[0].content[0].image.source.x_src"},
		{"openai tool choice function", translate.OpenAI, `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f","x_fc":1}}}`, "tool_choice.function.x_fc"},
		{"openai content part", translate.OpenAI, `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x","x_p":1}]}]}`, "messages[0].content[0].x_p"},
		{"anthropic cache control", translate.Anthropic, `{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"text","text":"x","cache_control":{"type":"ephemeral","x_cc":1}}]}]}`, "messages[0].content[0].cache_control.x_cc"},
		{"anthropic block type", translate.Anthropic, `{"max_tokens":5,"messages":[{"role":"user","content":[{"type":"search_result","source":"s","title":"t","content":[]}]}]}`, "messages[0].content[0].type"},
	}
	for _, tc := range tests {
		for _, backend := range []translate.Dialect{translate.OpenAI, translate.Converse, translate.Anthropic} {
			if backend == tc.client {
				continue
			}
			t.Run(tc.name+"/"+backend.String(), func(t *testing.T) {
				t.Parallel()
				_, err := translate.Request(tc.client, backend, []byte(tc.body), "m", false, translate.Options{})
				var ue *translate.UnsupportedError
				if !errors.As(err, &ue) || ue.Field != tc.field {
					t.Errorf("Request(%v -> %v, %s) = %v, want UnsupportedError for %s", tc.client, backend, tc.body, err, tc.field)
				}
			})
		}
	}
}

func TestPrefillRefusedTowardsOpenAI(t *testing.T) {
	t.Parallel()
	for client, body := range map[translate.Dialect]string{
		translate.Anthropic: `{"max_tokens":5,"messages":[{"role":"user","content":"Name a colour."},{"role":"assistant","content":"The colour is"}]}`,
		translate.Converse:  `{"messages":[{"role":"user","content":[{"text":"Name a colour."}]},{"role":"assistant","content":[{"text":"The colour is"}]}]}`,
	} {
		_, err := translate.Request(client, translate.OpenAI, []byte(body), "m", false, translate.Options{})
		var ue *translate.UnsupportedError
		if !errors.As(err, &ue) || ue.Field != "messages[1].role" {
			t.Errorf("Request(%v prefill -> openai) = %v, want refusal of messages[1].role", client, err)
		}
	}
}
