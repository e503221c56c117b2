package translate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestNothingDropped: every member a caller sends either reaches the
// translated body (want holds what must appear there) or is refused with
// an *UnsupportedError naming its path in the caller's body (refuse). Each
// case is a member a translator used to ignore without a word.
func TestNothingDropped(t *testing.T) {
	t.Parallel()
	const (
		oaBase = `"model":"m","messages":[{"role":"user","content":"hi"}]`
		anUser = `"max_tokens":100,"messages":[{"role":"user","content":`
		anTool = `"max_tokens":100,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":`
		cvTool = `"messages":[{"role":"user","content":[{"text":"hi"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":`
	)
	both := []translate.Dialect{translate.Converse, translate.Anthropic}
	tests := []struct {
		name     string
		client   translate.Dialect
		backends []translate.Dialect // each backend the client's body is translated for
		body     string
		refuse   string   // the refused member's path, or "" when translated
		want     []string // substrings of the translated body
	}{
		{name: "max_tokens beside a different max_completion_tokens", client: translate.OpenAI, backends: both,
			body: `{` + oaBase + `,"max_tokens":4242,"max_completion_tokens":100}`, refuse: "max_tokens"},
		{name: "max_tokens equal to max_completion_tokens", client: translate.OpenAI, backends: both,
			body: `{` + oaBase + `,"max_tokens":100,"max_completion_tokens":100}`, want: []string{"100"}},
		{name: "json_schema beside json_object", client: translate.OpenAI, backends: both,
			body:   `{` + oaBase + `,"response_format":{"type":"json_object","json_schema":{"name":"p","schema":{"type":"object","required":["a"]}}}}`,
			refuse: "response_format.json_schema"},
		{name: "image_url on a text part", client: translate.OpenAI, backends: both,
			body:   `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi","image_url":{"url":"data:image/png;base64,aGk="}}]}]}`,
			refuse: "messages[0].content[0].image_url"},
		{name: "text on an image part", client: translate.OpenAI, backends: both,
			body:   `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","text":"a caption","image_url":{"url":"data:image/png;base64,aGk="}}]}]}`,
			refuse: "messages[0].content[0].text"},
		{name: "file on a system text part", client: translate.OpenAI, backends: both,
			body:   `{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"x","file":{"file_id":"f"}}]},{"role":"user","content":"hi"}]}`,
			refuse: "messages[0].content[0].file"},
		{name: "allowed_tools beside a named function", client: translate.OpenAI, backends: both,
			body:   `{` + oaBase + `,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"},"allowed_tools":{"mode":"auto","tools":[]}}}`,
			refuse: "tool_choice.allowed_tools"},
		{name: "reasoning_effort none is no thinking", client: translate.OpenAI, backends: both,
			body: `{` + oaBase + `,"reasoning_effort":"none","temperature":0.2}`, want: []string{"0.2"}},
		{name: "json_schema description becomes the schema's", client: translate.OpenAI, backends: []translate.Dialect{translate.Anthropic},
			body: `{` + oaBase + `,"response_format":{"type":"json_schema","json_schema":{"name":"person","description":"A person","schema":{"type":"object"}}}}`,
			want: []string{`"schema":{"type":"object","description":"A person"}`}},
		{name: "json_schema description beside the schema's own", client: translate.OpenAI, backends: []translate.Dialect{translate.Anthropic},
			body:   `{` + oaBase + `,"response_format":{"type":"json_schema","json_schema":{"name":"p","description":"A person","schema":{"type":"object","description":"Someone"}}}}`,
			refuse: "response_format.json_schema.description"},
		{name: "json_schema description equal to the schema's own", client: translate.OpenAI, backends: []translate.Dialect{translate.Anthropic},
			body: `{` + oaBase + `,"response_format":{"type":"json_schema","json_schema":{"name":"p","description":"A person","schema":{"type":"object","description":"A person"}}}}`,
			want: []string{`"schema":{"type":"object","description":"A person"}`}},
		{name: "Converse jsonSchema description becomes the schema's", client: translate.Converse, backends: []translate.Dialect{translate.Anthropic},
			body: `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"schema":"{\"type\":\"object\"}","name":"p","description":"A person"}}}}}`,
			want: []string{`"schema":{"type":"object","description":"A person"}`}},
		{name: "two members of a content block", client: translate.Converse, backends: []translate.Dialect{translate.OpenAI, translate.Anthropic},
			body:   `{"messages":[{"role":"user","content":[{"text":"hi","image":{"format":"png","source":{"bytes":"aGk="}}}]}]}`,
			refuse: "messages[0].content[0].image"},
		{name: "two members of a tool", client: translate.Converse, backends: []translate.Dialect{translate.OpenAI, translate.Anthropic},
			body:   `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}},"cachePoint":{"type":"default"}}]}}`,
			refuse: "toolConfig.tools[0].cachePoint"},
		{name: "two members of a source", client: translate.Converse, backends: []translate.Dialect{translate.OpenAI, translate.Anthropic},
			body:   `{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"aGk=","s3Location":{"uri":"s3://b/k"}}}}]}]}`,
			refuse: "messages[0].content[0].image.source.s3Location"},
		{name: "two members of a tool result's content", client: translate.Converse, backends: []translate.Dialect{translate.OpenAI, translate.Anthropic},
			body:   `{` + cvTool + `{"toolUseId":"t","content":[{"text":"r","json":{"a":1}}]}}]}]}`,
			refuse: "messages[2].content[0].toolResult.content[0].text"},
		{name: "toolResult type", client: translate.Converse, backends: []translate.Dialect{translate.OpenAI},
			body: `{` + cvTool + `{"toolUseId":"t","type":"tool_search_result","content":[{"text":"x"}]}}]}]}`, refuse: "messages[2].content[0].toolResult.type"},
		{name: "null or empty citations on text", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body: `{` + anUser + `[{"type":"text","text":"hi","citations":null},{"type":"text","text":"there","citations":[]}]}]}`, want: []string{"there"}},
		{name: "citations disabled on a document", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI},
			body: `{` + anUser + `[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"aGk="},"citations":{"enabled":false}}]}]}`,
			want: []string{"data:application/pdf;base64,aGk="}},
		{name: "citations disabled on a Converse document", client: translate.Converse, backends: []translate.Dialect{translate.OpenAI},
			body: `{"messages":[{"role":"user","content":[{"document":{"format":"pdf","name":"d","source":{"bytes":"aGk="},"citations":{"enabled":false}}}]}]}`,
			want: []string{"data:application/pdf;base64,aGk="}},
		{name: "signature on a text block", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body: `{` + anUser + `[{"type":"text","text":"hi","signature":"c2ln"}]}]}`, refuse: "messages[0].content[0].signature"},
		{name: "title on a text block", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body: `{` + anUser + `[{"type":"text","text":"hi","title":"Report"}]}]}`, refuse: "messages[0].content[0].title"},
		{name: "text on a tool_use block", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{"max_tokens":100,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{},"text":"why"}]},{"role":"user","content":"ok"}]}`,
			refuse: "messages[1].content[0].text"},
		{name: "url beside base64 data", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{` + anUser + `[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"aGk=","url":"https://example.com/a.png"}}]}]}`,
			refuse: "messages[0].content[0].source.url"},
		{name: "citations on a tool result's text", client: translate.Anthropic, backends: []translate.Dialect{translate.Converse},
			body:   `{` + anTool + `[{"type":"text","text":"x","citations":[{"type":"char_location","cited_text":"x","document_index":0,"start_char_index":0,"end_char_index":1}]}]}]}]}`,
			refuse: "messages[2].content[0].content[0].citations"},
		{name: "is_error on a system block", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{"max_tokens":100,"system":[{"type":"text","text":"Be brief.","is_error":true}],"messages":[{"role":"user","content":"hi"}]}`,
			refuse: "system[0].is_error"},
		{name: "a name on tool_choice auto", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{"max_tokens":100,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto","name":"f"}}`,
			refuse: "tool_choice.name"},
		{name: "a budget on disabled thinking", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{"max_tokens":100,"messages":[{"role":"user","content":"hi"}],"thinking":{"type":"disabled","budget_tokens":2048}}`,
			refuse: "thinking.budget_tokens"},
		{name: "cache_control on a thinking block", client: translate.Anthropic, backends: []translate.Dialect{translate.Converse},
			body:   `{"max_tokens":100,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s","cache_control":{"type":"ephemeral"}},{"type":"text","text":"a"}]},{"role":"user","content":"ok"}]}`,
			refuse: "messages[1].content[0].cache_control"},
	}
	for _, tc := range tests {
		for _, backend := range tc.backends {
			t.Run(tc.name+"/"+tc.client.String()+"_"+backend.String(), func(t *testing.T) {
				t.Parallel()
				out, err := translate.Request(tc.client, backend, []byte(tc.body), "mdl", false, translate.Options{})
				checkTranslated(t, string(out), err, tc.refuse, tc.want)
			})
		}
	}
}

// TestResponsesNothingDropped is TestNothingDropped for the Responses API,
// whose refusals name the member's path in the Responses request.
func TestResponsesNothingDropped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		backends []translate.Dialect
		body     string
		refuse   string
		want     []string
	}{
		{name: "text.format description becomes the schema's", backends: []translate.Dialect{translate.Anthropic},
			body: `{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"p","description":"A person","schema":{"type":"object"}}}}`,
			want: []string{`"schema":{"type":"object","description":"A person"}`}},
		{name: "a schema beside json_object", backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{"model":"m","input":"hi","text":{"format":{"type":"json_object","schema":{"type":"object","required":["a"]}}}}`,
			refuse: "text.format.schema"},
		{name: "image_url on an input_text part", backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"hi","image_url":"data:image/png;base64,aGk="}]}]}`,
			refuse: "input[0].content[0].image_url"},
		{name: "content on a function_call item", backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{"model":"m","input":[{"role":"user","content":"hi"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}","content":"why"},{"type":"function_call_output","call_id":"c","output":"r"}],"tools":[{"type":"function","name":"f","parameters":{"type":"object"}}]}`,
			refuse: "input[1].content"},
		{name: "name on a function_call_output item", backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{"model":"m","input":[{"role":"user","content":"hi"},{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"r","name":"f"}],"tools":[{"type":"function","name":"f","parameters":{"type":"object"}}]}`,
			refuse: "input[2].name"},
		{name: "text.format description beside the schema's own", backends: []translate.Dialect{translate.Anthropic},
			body:   `{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"p","description":"A person","schema":{"type":"object","description":"x"}}}}`,
			refuse: "text.format.description"},
	}
	for _, tc := range tests {
		for _, backend := range tc.backends {
			t.Run(tc.name+"/"+backend.String(), func(t *testing.T) {
				t.Parallel()
				out, err := translate.ResponsesRequest(backend, []byte(tc.body), "mdl", false, translate.Options{})
				checkTranslated(t, string(out), err, tc.refuse, tc.want)
			})
		}
	}
}

func checkTranslated(t *testing.T, out string, err error, refuse string, want []string) {
	t.Helper()
	if refuse != "" {
		// A value the client's API does not define (a Converse union with
		// two members) is an InvalidError, any other refusal an
		// UnsupportedError: both name the member.
		var ue *translate.UnsupportedError
		var ie *translate.InvalidError
		switch {
		case errors.As(err, &ue) && ue.Field == refuse:
		case errors.As(err, &ie) && ie.Field == refuse:
		default:
			t.Fatalf("translated to %s, err %v; want a refusal of %s", out, err, refuse)
		}
		if !strings.HasPrefix(err.Error(), refuse+": ") {
			t.Errorf("refusal %q does not start with the member's path %s", err.Error(), refuse)
		}
		return
	}
	if err != nil {
		t.Fatalf("refused: %v; want a translation", err)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("translated body %s lacks %s", out, w)
		}
	}
}

// TestAnswersKeepWhatTheBackendSaid: a member of a backend's answer that
// the client's dialect can express reaches the client, in answers and in
// streams: the tier that served the request, and the stop sequence an
// OpenAI-compatible server (vLLM's choices[].stop_reason) says it stopped
// on.
func TestAnswersKeepWhatTheBackendSaid(t *testing.T) {
	t.Parallel()
	const (
		cvAnswer = `{"output":{"message":{"role":"assistant","content":[{"text":"1 2 3"}]}},"stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":3,"totalTokens":8},"metrics":{"latencyMs":9}`
		oaAnswer = `{"id":"c","object":"chat.completion","created":1,"model":"m","usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}`
	)
	meta := translate.ResponseMeta{ID: "id-1", Model: "m", IncludeUsage: true}
	tests := []struct {
		name            string
		backend, client translate.Dialect
		answer          string   // a whole answer, or
		events          []string // stream events ("type\tdata" for Converse and Anthropic)
		want            []string // substrings of the client's answer or events
	}{
		{name: "served tier", backend: translate.Converse, client: translate.OpenAI,
			answer: cvAnswer + `,"serviceTier":{"type":"flex"}}`, want: []string{`"service_tier":"flex"`}},
		{name: "served tier", backend: translate.OpenAI, client: translate.Converse,
			answer: oaAnswer + `,"service_tier":"priority","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}]}`,
			want:   []string{`"serviceTier":{"type":"priority"}`}},
		{name: "served tier", backend: translate.Converse, client: translate.Anthropic,
			answer: cvAnswer + `,"serviceTier":{"type":"default"}}`, want: []string{`"service_tier":"standard"`}},
		{name: "cache writes by TTL", backend: translate.Converse, client: translate.Anthropic,
			answer: `{"output":{"message":{"role":"assistant","content":[{"text":"x"}]}},"stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":3,"totalTokens":1508,"cacheWriteInputTokens":1500,"cacheDetails":[{"ttl":"1h","inputTokens":1000},{"ttl":"5m","inputTokens":500}]},"metrics":{"latencyMs":9}}`,
			want:   []string{`"cache_creation_input_tokens":1500`, `"cache_creation":{"ephemeral_1h_input_tokens":1000,"ephemeral_5m_input_tokens":500}`}},
		{name: "stop sequence", backend: translate.OpenAI, client: translate.Anthropic,
			answer: oaAnswer + `,"choices":[{"index":0,"message":{"role":"assistant","content":"1 2 3"},"finish_reason":"stop","stop_reason":"END"}]}`,
			want:   []string{`"stop_reason":"stop_sequence"`, `"stop_sequence":"END"`}},
		{name: "stop sequence", backend: translate.OpenAI, client: translate.Converse,
			answer: oaAnswer + `,"choices":[{"index":0,"message":{"role":"assistant","content":"1 2 3"},"finish_reason":"stop","stop_reason":"END"}]}`,
			want:   []string{`"stopReason":"stop_sequence"`}},
		{name: "vLLM's reasoning", backend: translate.OpenAI, client: translate.Anthropic,
			answer: oaAnswer + `,"choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning":"2 and 2 make 4"},"finish_reason":"stop"}]}`,
			want:   []string{`{"type":"thinking","thinking":"2 and 2 make 4",`}},
		{name: "vLLM's reasoning", backend: translate.OpenAI, client: translate.Converse,
			answer: oaAnswer + `,"choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning":"2 and 2 make 4"},"finish_reason":"stop"}]}`,
			want:   []string{`"reasoningText":{"text":"2 and 2 make 4"}`}},
		{name: "streamed vLLM's reasoning", backend: translate.OpenAI, client: translate.Anthropic,
			events: []string{`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning":"2 and 2"},"finish_reason":null}]}`,
				`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"4"},"finish_reason":"stop"}]}`},
			want: []string{`"thinking_delta","thinking":"2 and 2"`}},
		{name: "streamed vLLM's reasoning", backend: translate.OpenAI, client: translate.Converse,
			events: []string{`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"reasoning":"2 and 2"},"finish_reason":null}]}`,
				`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"4"},"finish_reason":"stop"}]}`},
			want: []string{`"reasoningContent":{"text":"2 and 2"}`}},
		{name: "streamed served tier", backend: translate.Converse, client: translate.OpenAI,
			events: []string{"messageStart\t{\"role\":\"assistant\"}", "contentBlockDelta\t{\"contentBlockIndex\":0,\"delta\":{\"text\":\"x\"}}",
				"messageStop\t{\"stopReason\":\"end_turn\"}", "metadata\t{\"usage\":{\"inputTokens\":1,\"outputTokens\":1,\"totalTokens\":2},\"metrics\":{\"latencyMs\":1},\"serviceTier\":{\"type\":\"flex\"}}"},
			want: []string{`"service_tier":"flex"`}},
		{name: "streamed served tier", backend: translate.OpenAI, client: translate.Converse,
			events: []string{`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"priority","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}]}`,
				`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"priority","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
				`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"priority","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`},
			want: []string{`"serviceTier":{"type":"priority"}`}},
		{name: "streamed stop sequence", backend: translate.OpenAI, client: translate.Anthropic,
			events: []string{`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"1 2 3"},"finish_reason":null}]}`,
				`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop","stop_reason":"END"}]}`,
				`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`},
			want: []string{`"stop_reason":"stop_sequence"`, `"stop_sequence":"END"`}},
		{name: "streamed stop sequence", backend: translate.OpenAI, client: translate.Converse,
			events: []string{`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"1 2 3"},"finish_reason":"stop","stop_reason":"END"}]}`},
			want:   []string{`"stopReason":"stop_sequence"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/"+tc.backend.String()+"_to_"+tc.client.String(), func(t *testing.T) {
			t.Parallel()
			var out strings.Builder
			if tc.events == nil {
				b, err := translate.Response(tc.backend, tc.client, []byte(tc.answer), meta)
				if err != nil {
					t.Fatalf("Response: %v", err)
				}
				out.Write(b)
			} else {
				s, err := translate.NewStream(tc.backend, tc.client, meta)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range tc.events {
					typ, data, ok := strings.Cut(e, "\t")
					if !ok {
						typ, data = "", e
					}
					evs, err := s.Next(translate.Event{Type: typ, Data: []byte(data)})
					if err != nil {
						t.Fatalf("Next(%s): %v", e, err)
					}
					for _, ev := range evs {
						out.WriteString(ev.Type + " " + string(ev.Data) + "\n")
					}
				}
				evs, err := s.Finish()
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					out.WriteString(ev.Type + " " + string(ev.Data) + "\n")
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("client received\n%s\nlacking %s", out.String(), w)
				}
			}
		})
	}
}

// TestResponsesAnswerNamesServedTier: a Response names the tier that
// served it, as the backend's answer says, not the one the request asked
// for.
func TestResponsesAnswerNamesServedTier(t *testing.T) {
	t.Parallel()
	req := []byte(`{"model":"m","input":"hi","service_tier":"auto"}`)
	tests := []struct {
		backend translate.Dialect
		answer  string
	}{
		{translate.OpenAI, `{"id":"c","object":"chat.completion","created":1,"model":"m","service_tier":"flex","choices":[{"index":0,"message":{"role":"assistant","content":"x"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`},
		{translate.Converse, `{"output":{"message":{"role":"assistant","content":[{"text":"x"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1},"serviceTier":{"type":"flex"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.backend.String(), func(t *testing.T) {
			t.Parallel()
			r, err := translate.DecodeResponsesRequest(req)
			if err != nil {
				t.Fatal(err)
			}
			out, err := translate.ResponsesResponse(tc.backend, r, []byte(tc.answer), translate.ResponseMeta{ID: "resp_1", Model: "m"})
			if err != nil || !strings.Contains(string(out), `"service_tier":"flex"`) {
				t.Errorf("ResponsesResponse = %s, %v; want service_tier flex", out, err)
			}
		})
	}
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		r, err := translate.DecodeResponsesRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		s, err := translate.NewResponsesStream(translate.OpenAI, r, translate.ResponseMeta{ID: "resp_1", Model: "m", IncludeUsage: true})
		if err != nil {
			t.Fatal(err)
		}
		var completed string
		for _, c := range []string{
			`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"flex","choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}`,
			`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"flex","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`,
		} {
			evs, err := s.Next(translate.Event{Data: []byte(c)})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.Type == "response.completed" {
					completed = string(e.Data)
				}
			}
		}
		if !strings.Contains(completed, `"service_tier":"flex"`) {
			t.Errorf("response.completed = %s, want service_tier flex", completed)
		}
	})
}

// TestAnswersWithoutAFormFail: an answer part the client's dialect has no
// form for fails the answer (an *UnsupportedError, or a *StreamError in a
// stream) instead of reaching the client without it.
func TestAnswersWithoutAFormFail(t *testing.T) {
	t.Parallel()
	meta := translate.ResponseMeta{ID: "id-1", Model: "m"}
	tests := []struct {
		name            string
		backend, client translate.Dialect
		answer          string   // a whole answer, or
		events          []string // stream events ("type\tdata")
	}{
		{name: "text citations", backend: translate.Anthropic, client: translate.OpenAI,
			answer: `{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"x","citations":[{"type":"char_location","cited_text":"x","document_index":0,"start_char_index":0,"end_char_index":1}]}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`},
		{name: "streamed citation", backend: translate.Anthropic, client: translate.OpenAI,
			events: []string{"message_start\t" + `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":0}}}`,
				"content_block_start\t" + `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`,
				"content_block_delta\t" + `{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{"type":"char_location","cited_text":"x","document_index":0,"start_char_index":0,"end_char_index":1}}}`}},
		{name: "streamed image block", backend: translate.Converse, client: translate.OpenAI,
			events: []string{"messageStart\t{\"role\":\"assistant\"}", "contentBlockStart\t{\"contentBlockIndex\":0,\"start\":{\"image\":{\"format\":\"png\"}}}"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.events == nil {
				out, err := translate.Response(tc.backend, tc.client, []byte(tc.answer), meta)
				if !errors.Is(err, translate.ErrUnsupported) {
					t.Errorf("Response = %s, %v; want an *UnsupportedError", out, err)
				}
				return
			}
			s, err := translate.NewStream(tc.backend, tc.client, meta)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tc.events {
				typ, data, _ := strings.Cut(e, "\t")
				if _, err = s.Next(translate.Event{Type: typ, Data: []byte(data)}); err != nil {
					break
				}
			}
			var se *translate.StreamError
			if !errors.As(err, &se) {
				t.Errorf("stream ended with %v; want a *StreamError", err)
			}
		})
	}
}

// TestDecodeErrorsAreBounded: a body that does not fit its schema is
// refused with a message naming the member and the kind of value found,
// never the value itself (a number of 64 KiB digits would be echoed whole).
func TestDecodeErrorsAreBounded(t *testing.T) {
	t.Parallel()
	huge := "1" + strings.Repeat("0", 1<<16)
	tests := []struct {
		client translate.Dialect
		body   string
		field  string
	}{
		{translate.OpenAI, `{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":` + huge + `}`, "seed"},
		{translate.Anthropic, `{"max_tokens":` + huge + `,"messages":[]}`, "max_tokens"},
		{translate.Converse, `{"inferenceConfig":{"maxTokens":` + huge + `},"messages":[]}`, "inferenceConfig.maxTokens"},
		{translate.OpenAI, `{"model":"m","messages":[{"role":"user","content":"hi"}],"seed":"` + strings.Repeat("x", 1<<16) + `"}`, "seed"},
	}
	for _, tc := range tests {
		backend := translate.Converse
		if tc.client == translate.Converse {
			backend = translate.OpenAI
		}
		_, err := translate.Request(tc.client, backend, []byte(tc.body), "m", false, translate.Options{})
		var de *translate.DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("Request(%s) = %v, want a *DecodeError", tc.field, err)
		}
		if msg := de.Error(); len(msg) > 256 || !strings.Contains(msg, tc.field) {
			t.Errorf("Request(%s): message of %d bytes %.120q, want at most 256 naming %s", tc.field, len(msg), msg, tc.field)
		}
		if de.Field() != tc.field {
			t.Errorf("Request(%s): Field() = %q", tc.field, de.Field())
		}
	}
}

// TestStopSequenceFromTheRequest: a Converse model that stopped on a stop
// sequence without saying which (only Claude says, in
// additionalModelResponseFields) stopped on the client's only one; with
// several, the answer cannot name it.
func TestStopSequenceFromTheRequest(t *testing.T) {
	t.Parallel()
	answer := []byte(`{"output":{"message":{"role":"assistant","content":[{"text":"1 2 3"}]}},"stopReason":"stop_sequence","usage":{"inputTokens":5,"outputTokens":3,"totalTokens":8},"metrics":{"latencyMs":9}}`)
	events := []translate.Event{
		{Type: "messageStart", Data: []byte(`{"role":"assistant"}`)},
		{Type: "contentBlockDelta", Data: []byte(`{"contentBlockIndex":0,"delta":{"text":"1 2 3"}}`)},
		{Type: "contentBlockStop", Data: []byte(`{"contentBlockIndex":0}`)},
		{Type: "messageStop", Data: []byte(`{"stopReason":"stop_sequence"}`)},
		{Type: "metadata", Data: []byte(`{"usage":{"inputTokens":5,"outputTokens":3,"totalTokens":8},"metrics":{"latencyMs":9}}`)},
	}
	body := func(stops string) []byte {
		return []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":9,"stop_sequences":` + stops + `,"messages":[{"role":"user","content":"count"}]}`)
	}
	tests := []struct {
		stops, want string
	}{
		{`["4"]`, `"stop_sequence":"4"`},
		{`["4","5"]`, `"stop_sequence":null`},
	}
	for _, tc := range tests {
		meta := translate.ResponseMeta{ID: "msg_1", Model: "m", StopSequences: translate.AnthropicStopSequences(body(tc.stops))}
		out, err := translate.Response(translate.Converse, translate.Anthropic, answer, meta)
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("stop_sequences %s: answer %s, %v; want %s", tc.stops, out, err, tc.want)
		}
		s, err := translate.NewStream(translate.Converse, translate.Anthropic, meta)
		if err != nil {
			t.Fatal(err)
		}
		var all strings.Builder
		for _, e := range events {
			evs, err := s.Next(e)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				all.Write(ev.Data)
			}
		}
		if want := strings.Replace(tc.want, `"stop_sequence":null`, `"stop_reason":"stop_sequence"}`, 1); !strings.Contains(all.String(), want) {
			t.Errorf("stop_sequences %s: stream %s; want %s", tc.stops, all.String(), want)
		}
	}
}

// TestResponsesReasoningFromVLLM: the reasoning text of an OpenAI-compatible
// server that names it reasoning (vLLM now) becomes the Response's
// reasoning item, as reasoning_content does.
func TestResponsesReasoningFromVLLM(t *testing.T) {
	t.Parallel()
	r, err := translate.DecodeResponsesRequest([]byte(`{"model":"m","input":"2+2?"}`))
	if err != nil {
		t.Fatal(err)
	}
	answer := `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"4","reasoning":"2 and 2 make 4"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`
	out, err := translate.ResponsesResponse(translate.OpenAI, r, []byte(answer), translate.ResponseMeta{ID: "resp_1", Model: "m"})
	if err != nil || !strings.Contains(string(out), `"summary":[{"type":"summary_text","text":"2 and 2 make 4"}]`) {
		t.Errorf("ResponsesResponse = %s, %v; want the reasoning as a summary", out, err)
	}
}
