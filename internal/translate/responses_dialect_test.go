package translate_test

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/openai"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestResponsesSeam drives the byte-level seam the front end calls: one
// request, response and stream per backend dialect.
func TestResponsesSeam(t *testing.T) {
	t.Parallel()
	body := []byte(`{"model":"alias","instructions":"Be brief.","input":"Hi","max_output_tokens":50,"store":true,"metadata":{"k":"v"}}`)
	req, err := translate.DecodeResponsesRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		backend  translate.Dialect
		wantReq  string
		response string
		events   []translate.Event
	}{
		{translate.OpenAI,
			`{"model":"gpt-4.1","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_completion_tokens":50,"stream":true,"stream_options":{"include_usage":true}}`,
			`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
			[]translate.Event{
				{Data: []byte(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"Hello"},"finish_reason":null}]}`)},
				{Data: []byte(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`)},
				{Data: []byte(`{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)},
			}},
		{translate.Converse,
			`{"messages":[{"role":"user","content":[{"text":"Hi"}]}],"system":[{"text":"Be brief."}],"inferenceConfig":{"maxTokens":50},"requestMetadata":{"k":"v"}}`,
			`{"output":{"message":{"role":"assistant","content":[{"text":"Hello"}]}},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":1}}`,
			[]translate.Event{
				{Type: "messageStart", Data: []byte(`{"role":"assistant"}`)},
				{Type: "contentBlockDelta", Data: []byte(`{"contentBlockIndex":0,"delta":{"text":"Hello"}}`)},
				{Type: "contentBlockStop", Data: []byte(`{"contentBlockIndex":0}`)},
				{Type: "messageStop", Data: []byte(`{"stopReason":"end_turn"}`)},
				{Type: "metadata", Data: []byte(`{"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":1}}`)},
			}},
		{translate.Anthropic,
			`{"model":"gpt-4.1","system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}],"max_tokens":50,"stream":true}`,
			`{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"Hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}`,
			[]translate.Event{
				{Type: "message_start", Data: []byte(`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}}`)},
				{Type: "content_block_start", Data: []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)},
				{Type: "content_block_delta", Data: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}`)},
				{Type: "content_block_stop", Data: []byte(`{"type":"content_block_stop","index":0}`)},
				{Type: "message_delta", Data: []byte(`{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":1}}`)},
				{Type: "message_stop", Data: []byte(`{"type":"message_stop"}`)},
			}},
	}
	for _, tc := range tests {
		t.Run(tc.backend.String(), func(t *testing.T) {
			t.Parallel()
			got, err := translate.ResponsesRequest(tc.backend, body, "gpt-4.1", true, translate.Options{})
			if err != nil {
				t.Fatalf("ResponsesRequest: %v", err)
			}
			if eq, err := jsonEquivalent(got, tc.wantReq); err != nil || !eq {
				t.Errorf("ResponsesRequest = %s\nwant %s", got, tc.wantReq)
			}
			out, err := translate.ResponsesResponse(tc.backend, req, []byte(tc.response), rmeta)
			if err != nil {
				t.Fatalf("ResponsesResponse: %v", err)
			}
			var resp openai.Response
			if err := json.Unmarshal(out, &resp); err != nil || resp.Status != "completed" || resp.Output[0].Content.Parts[0].Text != "Hello" ||
				resp.Usage.InputTokens != 3 || string(resp.Instructions) != `"Be brief."` || resp.Metadata["k"] != "v" || *resp.Store {
				t.Errorf("ResponsesResponse = %s, %v", out, err)
			}
			s, err := translate.NewResponsesStream(tc.backend, req, rmeta)
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, e := range tc.events {
				evs, err := s.Next(e)
				if err != nil {
					t.Fatalf("Next(%s): %v", e.Data, err)
				}
				for _, ev := range evs {
					types = append(types, ev.Type)
				}
			}
			fin, _ := s.Finish()
			for _, ev := range fin {
				types = append(types, ev.Type)
			}
			want := "response.created response.in_progress response.output_item.added response.content_part.added response.output_text.delta response.output_text.done response.content_part.done response.output_item.done response.completed"
			if strings.Join(types, " ") != want {
				t.Errorf("stream events = %v\nwant %s", types, want)
			}
			if evs, _ := s.Fail(errors.New("late")); len(evs) != 0 {
				t.Errorf("Fail after completion = %d events, want none", len(evs))
			}
		})
	}
}

func TestResponsesStreamFail(t *testing.T) {
	t.Parallel()
	s, _ := translate.NewResponsesStream(translate.Anthropic, &openai.ResponsesRequest{Model: "m"}, rmeta)
	_, err := s.Next(translate.Event{Type: "error", Data: []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)})
	var se *translate.StreamError
	if !errors.As(err, &se) {
		t.Fatalf("Next(error) = %v, want *StreamError", err)
	}
	evs, err := s.Fail(err)
	if err != nil || len(evs) != 4 || evs[2].Type != "error" || evs[3].Type != "response.failed" {
		t.Fatalf("Fail = %v, %v", evs, err)
	}
	if !strings.Contains(string(evs[2].Data), `"code":"overloaded_error"`) || !strings.Contains(string(evs[3].Data), `"sequence_number":3`) {
		t.Errorf("Fail events = %s %s", evs[2].Data, evs[3].Data)
	}
	if fin, _ := s.Finish(); len(fin) != 0 {
		t.Errorf("Finish after Fail = %d events, want none", len(fin))
	}
}

// TestResponsesAnswerErrors: an answer the Responses API cannot show
// fails naming the deployment's API and the Responses API (an
// *AnswerError, not a request refusal), and a stream that fails so says
// what has no Responses form, not what has no Chat Completions form.
func TestResponsesAnswerErrors(t *testing.T) {
	t.Parallel()
	_, err := translate.ResponsesResponse(translate.Converse, &openai.ResponsesRequest{Model: "m"},
		[]byte(`{"output":{"message":{"role":"assistant","content":[{"newThing":{}}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}`), rmeta)
	var ae *translate.AnswerError
	if !errors.As(err, &ae) || ae.Backend != "Bedrock Converse" || ae.Client != "OpenAI Responses" ||
		!strings.Contains(err.Error(), "Bedrock Converse API") || !strings.Contains(err.Error(), "OpenAI Responses API") {
		t.Errorf("ResponsesResponse(new block) = %v, want an AnswerError naming Bedrock Converse and OpenAI Responses", err)
	}
	s, _ := translate.NewResponsesStream(translate.Converse, &openai.ResponsesRequest{Model: "m"}, rmeta)
	s.Next(translate.Event{Type: "messageStart", Data: []byte(`{"role":"assistant"}`)})
	_, err = s.Next(translate.Event{Type: "contentBlockDelta", Data: []byte(`{"contentBlockIndex":0,"delta":{"hologram":{}}}`)})
	var se *translate.StreamError
	if !errors.As(err, &se) || !se.Translator() || !strings.Contains(se.Message, "OpenAI Responses form") || strings.Contains(se.Message, "Chat Completions") {
		t.Errorf("Next(unknown delta) = %v, want a StreamError saying it has no OpenAI Responses form", err)
	}
}

func TestResponsesSeamErrors(t *testing.T) {
	t.Parallel()
	var de *translate.DecodeError
	if _, err := translate.ResponsesRequest(translate.Converse, []byte(`{"model":1}`), "m", false, translate.Options{}); !errors.As(err, &de) {
		t.Errorf("ResponsesRequest(bad body) = %v, want *DecodeError", err)
	}
	if _, err := translate.ResponsesResponse(translate.Anthropic, nil, []byte(`[`), rmeta); !errors.As(err, &de) {
		t.Errorf("ResponsesResponse(bad body) = %v, want *DecodeError", err)
	}
	if _, err := translate.NewResponsesStream(translate.Dialect(9), nil, rmeta); err == nil {
		t.Error("NewResponsesStream(unknown) = nil error")
	}
	// Bedrock-shaped Anthropic bodies carry no model and no stream.
	b, err := translate.ResponsesRequest(translate.Anthropic, []byte(`{"model":"a","input":"hi"}`), "m", true, translate.Options{AnthropicBedrock: true})
	if err != nil || strings.Contains(string(b), `"model"`) || !strings.Contains(string(b), `"anthropic_version"`) {
		t.Errorf("ResponsesRequest(AnthropicBedrock) = %s, %v", b, err)
	}
}

func TestEmbeddingsSeam(t *testing.T) {
	t.Parallel()
	req, err := translate.DecodeEmbeddingsRequest([]byte(`{"model":"e","input":["a","bb"],"encoding_format":"base64","dimensions":256}`))
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := translate.EmbeddingsRequest(translate.Titan, req, translate.EmbedOptions{})
	if err != nil || len(bodies) != 2 || string(bodies[1]) != `{"inputText":"bb","dimensions":256,"normalize":true,"embeddingTypes":["float"]}` {
		t.Fatalf("EmbeddingsRequest(Titan) = %q, %v", bodies, err)
	}
	out, err := translate.EmbeddingsResponse(translate.Titan, req, [][]byte{
		[]byte(`{"embedding":[0.5],"inputTextTokenCount":1}`), []byte(`{"embedding":[1],"inputTextTokenCount":2}`)}, translate.EmbedMeta{Model: "e"})
	want := `{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAAAPw=="},{"object":"embedding","index":1,"embedding":"AACAPw=="}],"model":"e","usage":{"prompt_tokens":3,"total_tokens":3}}`
	if err != nil || string(out) != want {
		t.Errorf("EmbeddingsResponse(Titan) = %s, %v\nwant %s", out, err, want)
	}
	if _, err := translate.EmbeddingsResponse(translate.Titan, req, [][]byte{[]byte(`{"embedding":[0.5]}`)}, translate.EmbedMeta{}); err == nil {
		t.Error("EmbeddingsResponse(one body for two inputs) = nil error")
	}
	if _, err := translate.EmbeddingsRequest(translate.Cohere, req, translate.EmbedOptions{}); !errors.Is(err, translate.ErrUnsupported) {
		t.Errorf("EmbeddingsRequest(Cohere v3, dimensions) = %v, want refusal", err)
	}
	bodies, err = translate.EmbeddingsRequest(translate.Cohere, req, translate.EmbedOptions{CohereV4: true, InputType: "search_query"})
	if err != nil || len(bodies) != 1 || string(bodies[0]) != `{"texts":["a","bb"],"input_type":"search_query","embedding_types":["float"],"output_dimension":256}` {
		t.Fatalf("EmbeddingsRequest(Cohere v4) = %q, %v", bodies, err)
	}
	out, err = translate.EmbeddingsResponse(translate.Cohere, req, [][]byte{[]byte(`{"id":"x","response_type":"embeddings_by_type","embeddings":{"float":[[0.5],[1]]}}`)}, translate.EmbedMeta{Model: "e", InputTokens: 9})
	if err != nil || !strings.Contains(string(out), `"prompt_tokens":9`) || !strings.Contains(string(out), `"AACAPw=="`) {
		t.Errorf("EmbeddingsResponse(Cohere) = %s, %v", out, err)
	}
	big := &openai.EmbeddingRequest{Model: "e", Input: openai.EmbeddingInput{Strings: make([]string, translate.CohereMaxTexts+1)}}
	for i := range big.Input.Strings {
		big.Input.Strings[i] = "x"
	}
	if _, err := translate.EmbeddingsToCohereRequest(big, translate.EmbedOptions{}); !errors.Is(err, translate.ErrUnsupported) {
		t.Errorf("EmbeddingsToCohereRequest(97 inputs) = %v, want refusal", err)
	}
	for _, body := range []string{`{"model":"e","input":["a",""]}`, `{"model":"e","input":"a","user":"u"}`, `{"model":"e","input":"a","encoding_format":"int8"}`, `{"model":"e","input":[]}`, `{"model":"e","input":"a","x":1}`} {
		r, err := translate.DecodeEmbeddingsRequest([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := translate.EmbeddingsToTitanRequests(r); !errors.Is(err, translate.ErrUnsupported) {
			t.Errorf("EmbeddingsToTitanRequests(%s) = %v, want refusal", body, err)
		}
	}
}

func jsonEquivalent(got []byte, want string) (bool, error) {
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		return false, err
	}
	if err := json.Unmarshal([]byte(want), &b); err != nil {
		return false, err
	}
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return string(ab) == string(bb), nil
}

// TestReasoningRoundTrip sends a response's output back as the next
// request's input, as a client that stores nothing does, and checks
// Claude's signed reasoning reaches the backend again.
func TestReasoningRoundTrip(t *testing.T) {
	t.Parallel()
	req := &openai.ResponsesRequest{Model: "m", Include: []string{"reasoning.encrypted_content"}}
	first, err := translate.ResponsesResponse(translate.Anthropic, req, []byte(`{"id":"msg_1","type":"message","role":"assistant","model":"c",
		"content":[{"type":"thinking","thinking":"Plan.","signature":"SIG"},{"type":"redacted_thinking","data":"UkVE"},{"type":"tool_use","id":"toolu_1","name":"f","input":{}}],
		"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`), rmeta)
	if err != nil {
		t.Fatal(err)
	}
	var resp openai.Response
	if err := json.Unmarshal(first, &resp); err != nil {
		t.Fatal(err)
	}
	items := append([]openai.Item{{Role: "user", Content: &openai.ItemContent{Text: "go"}}}, resp.Output...)
	items = append(items, openai.Item{Type: "function_call_output", CallID: "toolu_1", Output: &openai.ItemContent{Text: "done"}})
	next := openai.ResponsesRequest{Model: "m", Input: &openai.ResponseInput{Items: items}, Reasoning: &openai.ReasoningConfig{Effort: "low"}, Include: req.Include}
	body, _ := json.Marshal(next)
	for _, d := range []translate.Dialect{translate.Anthropic, translate.Converse} {
		out, err := translate.ResponsesRequest(d, body, "m", false, translate.Options{})
		if err != nil {
			t.Fatalf("%v: %v", d, err)
		}
		if !strings.Contains(string(out), `"SIG"`) || !strings.Contains(string(out), `"Plan."`) {
			t.Errorf("%v: reasoning not restored: %s", d, out)
		}
	}
	// Without reasoning enabled, carried reasoning is not sent.
	next.Reasoning = nil
	body, _ = json.Marshal(next)
	if out, err := translate.ResponsesRequest(translate.Anthropic, body, "m", false, translate.Options{}); err != nil || strings.Contains(string(out), "SIG") {
		t.Errorf("without reasoning: %s, %v", out, err)
	}
}

// TestReasoningRoundTripChatBody is TestReasoningRoundTrip on the path a
// front end takes: the Chat body of ResponsesChatRequest (what is routed,
// locally or over the link), translated by Request for a Converse or
// Anthropic deployment, has Claude's signed reasoning at the start of the
// assistant turn, before its tool call; for an OpenAI deployment the body
// carries none (WithoutCarriedReasoning), as ResponsesRequest's does not.
func TestReasoningRoundTripChatBody(t *testing.T) {
	t.Parallel()
	req := &openai.ResponsesRequest{Model: "m", Include: []string{"reasoning.encrypted_content"}}
	first, err := translate.ResponsesResponse(translate.Converse, req, []byte(`{"output":{"message":{"role":"assistant","content":[
		{"reasoningContent":{"reasoningText":{"text":"Plan.","signature":"SIG"}}},{"reasoningContent":{"redactedContent":"UkVE"}},
		{"toolUse":{"toolUseId":"tooluse_1","name":"f","input":{}}}]}},"stopReason":"tool_use","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}`), rmeta)
	if err != nil {
		t.Fatal(err)
	}
	var resp openai.Response
	if err := json.Unmarshal(first, &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Output) != 2 || resp.Output[0].Type != "reasoning" || !strings.HasPrefix(deref(resp.Output[0].EncryptedContent), "meridian.r1.") {
		t.Fatalf("first answer's output = %s", first)
	}
	items := append([]openai.Item{{Role: "user", Content: &openai.ItemContent{Text: "go"}}}, resp.Output...)
	items = append(items, openai.Item{Type: "function_call_output", CallID: "tooluse_1", Output: &openai.ItemContent{Text: "done"}})
	next := openai.ResponsesRequest{Model: "m", Input: &openai.ResponseInput{Items: items}, Reasoning: &openai.ReasoningConfig{Effort: "low"}, Include: req.Include}
	body, _ := json.Marshal(next)
	chat, _, err := translate.ResponsesChatRequest(body, "m", false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[translate.Dialect]string{
		translate.Converse:  `{"role":"assistant","content":[{"reasoningContent":{"reasoningText":{"text":"Plan.","signature":"SIG"}}},{"reasoningContent":{"redactedContent":"UkVE"}},{"toolUse":{"toolUseId":"tooluse_1","name":"f","input":{}}}]}`,
		translate.Anthropic: `{"role":"assistant","content":[{"type":"thinking","thinking":"Plan.","signature":"SIG"},{"type":"redacted_thinking","data":"UkVE"},{"type":"tool_use","id":"tooluse_1","name":"f","input":{}}]}`,
	}
	for d, turn := range want {
		out, err := translate.Request(translate.OpenAI, d, chat, "m", false, translate.Options{})
		if err != nil {
			t.Fatalf("%v: %v", d, err)
		}
		var got struct{ Messages []json.RawMessage }
		if err := json.Unmarshal(out, &got); err != nil || len(got.Messages) != 3 {
			t.Fatalf("%v: %s, %v", d, out, err)
		}
		if ok, err := jsonEquivalent(got.Messages[1], turn); err != nil || !ok {
			t.Errorf("%v: assistant turn %s, want %s", d, got.Messages[1], turn)
		}
		// The twin for one dialect (ResponsesRequest) puts back the same.
		twin, err := translate.ResponsesRequest(d, body, "m", false, translate.Options{})
		if err != nil || !strings.Contains(string(twin), `"SIG"`) || !strings.Contains(string(twin), `"UkVE"`) {
			t.Errorf("%v: ResponsesRequest = %s, %v", d, twin, err)
		}
	}
	stripped := translate.WithoutCarriedReasoning(chat)
	if bytes.Contains(stripped, []byte("meridian.r1.")) || bytes.Contains(stripped, []byte("reasoning_content")) || !bytes.Contains(stripped, []byte(`"tool_calls"`)) {
		t.Errorf("OpenAI body %s, want the tool call without carried reasoning", stripped)
	}
	openaiBody, err := translate.ResponsesRequest(translate.OpenAI, body, "m", false, translate.Options{})
	if err != nil || !bytes.Equal(openaiBody, stripped) {
		t.Errorf("ResponsesRequest(OpenAI) = %s, %v; want %s", openaiBody, err, stripped)
	}
	// Without reasoning enabled, the Chat body carries none.
	next.Reasoning = nil
	body, _ = json.Marshal(next)
	if chat, _, err = translate.ResponsesChatRequest(body, "m", false); err != nil || bytes.Contains(chat, []byte("meridian.r1.")) {
		t.Errorf("without reasoning: %s, %v", chat, err)
	}
}

// TestCarriedReasoningChat: what Request does with a Chat body's carried
// reasoning toward Converse and Anthropic. With reasoning_effort other than
// none it goes back as the assistant turn's first blocks, and a value with
// the prefix that does not decode is refused at its
// messages[i].reasoning_content, the same values in both dialects; without
// (absent, null or none) a reasoning_content is the client's own reasoning
// text, left out as before.
func TestCarriedReasoningChat(t *testing.T) {
	t.Parallel()
	carry := func(blocks string) string {
		return "meridian.r1." + base64.RawURLEncoding.EncodeToString([]byte(blocks))
	}
	body := func(effort, rc string) []byte {
		e := ""
		if effort != "" {
			e = `"reasoning_effort":` + effort + `,`
		}
		return []byte(`{"model":"m","max_completion_tokens":4096,` + e + `"messages":[{"role":"user","content":"u"},` +
			`{"role":"assistant","reasoning_content":"` + rc + `","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},` +
			`{"role":"tool","tool_call_id":"c","content":"ok"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}`)
	}
	good := carry(`[{"t":"Plan.","s":"SIG"},{"r":"UkVE"}]`)
	tests := []struct {
		name, effort, rc string
		restored         bool
		refused          bool
	}{
		{"restored", `"low"`, good, true, false},
		{"effort absent", ``, good, false, false},
		{"effort null", `null`, good, false, false},
		{"effort none", `"none"`, good, false, false},
		{"a client's own reasoning", `"low"`, "I think.", false, true}, // unsigned: refused before Claude would
		{"not base64url", `"low"`, "meridian.r1.!!", false, true},
		{"not base64url, effort absent", ``, "meridian.r1.!!", false, false},
		{"not base64url, effort none", `"none"`, "meridian.r1.!!", false, false},
		{"not JSON", `"low"`, carry(`[{`), false, true},
		{"no blocks", `"low"`, carry(`[]`), false, true},
		{"redacted not standard base64", `"low"`, carry(`[{"r":"RED"}]`), false, true},
		{"redacted and text", `"low"`, carry(`[{"r":"UkVE","s":"S"}]`), false, true},
	}
	for _, tc := range tests {
		for _, d := range []translate.Dialect{translate.Converse, translate.Anthropic} {
			t.Run(tc.name+"/"+d.String(), func(t *testing.T) {
				out, err := translate.Request(translate.OpenAI, d, body(tc.effort, tc.rc), "m", false, translate.Options{})
				if tc.refused {
					if !strings.HasPrefix(tc.rc, "meridian.r1.") {
						// A client's own reasoning_content in a tool loop
						// with reasoning on (thinking_tools.go).
						var ue *translate.UnsupportedError
						if !errors.As(err, &ue) || ue.Field != "reasoning_effort" {
							t.Fatalf("Request = %s, %v; want refusal of reasoning_effort", out, err)
						}
						return
					}
					// The client's mistake, whatever the destination: an
					// OpenAI one refuses it too (StripCarriedReasoning).
					var ie *translate.InvalidError
					if !errors.As(err, &ie) || ie.Field != "messages[1].reasoning_content" {
						t.Fatalf("Request = %s, %v; want an InvalidError naming messages[1].reasoning_content", out, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if got := bytes.Contains(out, []byte(`"SIG"`)); got != tc.restored {
					t.Errorf("restored = %v, want %v: %s", got, tc.restored, out)
				}
				if bytes.Contains(out, []byte("meridian.r1.")) || bytes.Contains(out, []byte("I think.")) {
					t.Errorf("carried value sent as it is: %s", out)
				}
			})
		}
	}
}

// TestWithoutCarriedReasoning: only the reasoning_content members that
// carry Claude's reasoning go; a Chat client's own reasoning text, every
// other byte and a body that cannot be read stay as they are.
// CarriesReasoning says whether there was one to remove.
func TestWithoutCarriedReasoning(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"none", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`, ""},
		{"a client's reasoning text", `{"messages":[{"role":"assistant","content":"a","reasoning_content":"I think."}]}`, ""},
		{"carried", `{"model":"m", "messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[],"reasoning_content":"meridian.r1.W3sidCI6IngiLCJzIjoieSJ9XQ"} ,{"role":"tool","content":"x"}],"stream":true}`,
			`{"model":"m", "messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[]},{"role":"tool","content":"x"}],"stream":true}`},
		{"carried first", `{"messages":[{"reasoning_content":"meridian.r1.W3sidCI6IngiLCJzIjoieSJ9XQ","role":"assistant","content":"meridian.r1. is text"}]}`,
			`{"messages":[{"role":"assistant","content":"meridian.r1. is text"}]}`},
		{"the prefix elsewhere only", `{"messages":[{"role":"user","content":"meridian.r1.x"}]}`, ""},
		{"not JSON", `{"messages":[{"reasoning_content":"meridian.r1.`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := cmp.Or(tc.want, tc.in)
			if got := translate.WithoutCarriedReasoning([]byte(tc.in)); string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if got := translate.CarriesReasoning([]byte(tc.in)); got != (want != tc.in) {
				t.Errorf("CarriesReasoning = %v", got)
			}
		})
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
