package translate_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// runStream feeds events ("type\tdata") to a new stream translator and
// returns what it wrote and the first error.
func runStream(t *testing.T, backend, client translate.Dialect, events ...string) (string, error) {
	t.Helper()
	s, err := translate.NewStream(backend, client, translate.ResponseMeta{ID: "id-1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, e := range events {
		typ, data, _ := strings.Cut(e, "\t")
		evs, err := s.Next(translate.Event{Type: typ, Data: []byte(data)})
		for _, ev := range evs {
			out.Write(ev.Data)
			out.WriteByte('\n')
		}
		if err != nil {
			return out.String(), err
		}
	}
	return out.String(), nil
}

// TestBackendErrorIsNotTheTranslators: an error event a backend sends
// stays the backend's, whatever type it names; only the translator's own
// failures are marked as such (their message is then fit for the client).
func TestBackendErrorIsNotTheTranslators(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		backend, client translate.Dialect
		events          []string
	}{
		{"OpenAI error chunk to Anthropic", translate.OpenAI, translate.Anthropic,
			[]string{"\t" + `{"error":{"type":"unsupported","message":"internal host 10.0.0.5 account 123"}}`}},
		{"OpenAI error chunk to Converse", translate.OpenAI, translate.Converse,
			[]string{"\t" + `{"error":{"type":"protocol","message":"internal host 10.0.0.5 account 123"}}`}},
		{"Anthropic error event to OpenAI", translate.Anthropic, translate.OpenAI,
			[]string{"error\t" + `{"type":"error","error":{"type":"unsupported","message":"internal host 10.0.0.5"}}`}},
		{"Anthropic error event to Converse", translate.Anthropic, translate.Converse,
			[]string{"error\t" + `{"type":"error","error":{"type":"protocol","message":"internal host 10.0.0.5"}}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := runStream(t, tc.backend, tc.client, tc.events...)
			var se *translate.StreamError
			if !errors.As(err, &se) {
				t.Fatalf("Next = %v; want a *StreamError", err)
			}
			if se.Translator() {
				t.Errorf("Translator() = true for the backend's error %+v; its message would reach the client", se)
			}
		})
	}
	_, err := runStream(t, translate.Converse, translate.OpenAI, "messageStart\t{\"role\":\"assistant\"}",
		"contentBlockStart\t{\"contentBlockIndex\":0,\"start\":{\"image\":{\"format\":\"png\"}}}")
	var se *translate.StreamError
	if !errors.As(err, &se) || !se.Translator() {
		t.Errorf("a part without a form: %v; want the translator's own *StreamError", err)
	}
}

const converseStart = "messageStart\t{\"role\":\"assistant\"}"

func converseAnswer(content string) string {
	return `{"output":{"message":{"role":"assistant","content":[` + content + `]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}`
}

// TestAnswerPartsWithoutAKnownMemberFail: a union inside an answer (a
// piece of cited or generated text, a stream delta, a block start) whose
// members this package does not know, or that sets an unknown member next
// to a known one, fails the answer instead of reaching the client as an
// empty or partial part; a server tool call fails it too (the client
// would run it as its own).
func TestAnswerPartsWithoutAKnownMemberFail(t *testing.T) {
	t.Parallel()
	const loc = `"location":{"documentChar":{"documentIndex":0,"start":0,"end":1}}`
	tests := []struct {
		name   string
		client translate.Dialect
		answer string   // a whole Converse answer, or
		events []string // Converse stream events
		naming string   // what the failure names
	}{
		{name: "generated piece", client: translate.Anthropic, naming: "content[0]",
			answer: converseAnswer(`{"citationsContent":{"content":[{"image":{"format":"png"}}],"citations":[{"sourceContent":[{"text":"s"}],` + loc + `}]}}`)},
		{name: "cited piece", client: translate.Anthropic, naming: "sourceContent[0]",
			answer: converseAnswer(`{"citationsContent":{"content":[{"text":"x"}],"citations":[{"sourceContent":[{"image":{}}],` + loc + `}]}}`)},
		{name: "streamed cited piece", client: translate.Anthropic, naming: "sourceContent",
			events: []string{converseStart, "contentBlockDelta\t" + `{"contentBlockIndex":0,"delta":{"citation":{"sourceContent":[{"image":{}}],` + loc + `}}}`}},
		{name: "delta with an unknown member to OpenAI", client: translate.OpenAI, naming: "hologram",
			events: []string{converseStart, "contentBlockDelta\t" + `{"contentBlockIndex":0,"delta":{"text":"hi","hologram":{"x":1}}}`}},
		{name: "delta with an unknown member to Anthropic", client: translate.Anthropic, naming: "hologram",
			events: []string{converseStart, "contentBlockDelta\t" + `{"contentBlockIndex":0,"delta":{"text":"hi","hologram":{"x":1}}}`}},
		{name: "start with an unknown member", client: translate.OpenAI, naming: "hologram",
			events: []string{converseStart, "contentBlockStart\t" + `{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t","name":"f"},"hologram":{}}}`}},
		{name: "server tool call to OpenAI", client: translate.OpenAI, naming: "server_tool_use",
			answer: converseAnswer(`{"toolUse":{"toolUseId":"t1","name":"nova_grounding","input":{},"type":"server_tool_use"}}`)},
		{name: "server tool call to Anthropic", client: translate.Anthropic, naming: "server_tool_use",
			answer: converseAnswer(`{"toolUse":{"toolUseId":"t1","name":"nova_grounding","input":{},"type":"server_tool_use"}}`)},
		{name: "streamed server tool call to OpenAI", client: translate.OpenAI, naming: "server_tool_use",
			events: []string{converseStart, "contentBlockStart\t" + `{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t1","name":"nova_grounding","type":"server_tool_use"}}}`}},
		{name: "streamed server tool call to Anthropic", client: translate.Anthropic, naming: "server_tool_use",
			events: []string{converseStart, "contentBlockStart\t" + `{"contentBlockIndex":0,"start":{"toolUse":{"toolUseId":"t1","name":"nova_grounding","type":"server_tool_use"}}}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.events == nil {
				out, err := translate.Response(translate.Converse, tc.client, []byte(tc.answer), translate.ResponseMeta{ID: "id-1", Model: "m"})
				if !errors.Is(err, translate.ErrUnsupported) || !strings.Contains(err.Error(), tc.naming) {
					t.Errorf("Response = %s, %v; want an *UnsupportedError naming %s", out, err, tc.naming)
				}
				return
			}
			out, err := runStream(t, translate.Converse, tc.client, tc.events...)
			var se *translate.StreamError
			if !errors.As(err, &se) || !se.Translator() || !strings.Contains(se.Message, tc.naming) {
				t.Errorf("stream wrote %s and ended with %v; want the translator's *StreamError naming %s", out, err, tc.naming)
			}
		})
	}
}

// TestEchoedCitationLocations: a citation of an assistant turn sent back
// towards Converse names where it points; one without a required member
// is refused with the member's path, not sent as an empty location.
func TestEchoedCitationLocations(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, citation, refuse string }{
		{"char without indexes", `{"type":"char_location","cited_text":"s"}`, "messages[1].content[0].citations[0].document_index"},
		{"char with a null end", `{"type":"char_location","cited_text":"s","document_index":0,"start_char_index":0,"end_char_index":null}`, "messages[1].content[0].citations[0].end_char_index"},
		{"page without start", `{"type":"page_location","cited_text":"s","document_index":0,"end_page_number":2}`, "messages[1].content[0].citations[0].start_page_number"},
		{"block without end", `{"type":"content_block_location","cited_text":"s","document_index":0,"start_block_index":0}`, "messages[1].content[0].citations[0].end_block_index"},
		{"search result without index", `{"type":"search_result_location","cited_text":"s","source":"u","start_block_index":0,"end_block_index":1}`, "messages[1].content[0].citations[0].search_result_index"},
		{"complete", `{"type":"char_location","cited_text":"s","document_index":0,"start_char_index":0,"end_char_index":1}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := `{"max_tokens":10,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"text","text":"a","citations":[` + tc.citation + `]}]},{"role":"user","content":"more"}]}`
			out, err := translate.Request(translate.Anthropic, translate.Converse, []byte(body), "mdl", false, translate.Options{})
			checkTranslated(t, string(out), err, tc.refuse, []string{`"documentChar":{"documentIndex":0,"start":0,"end":1}`})
		})
	}
}

// TestNullCountsAsAbsent: a member sent as null is the same as a member
// left out, and reaches no refusal.
func TestNullCountsAsAbsent(t *testing.T) {
	t.Parallel()
	const anthropicBase = `"max_tokens":10,"messages":[{"role":"user","content":"q"}]`
	const openAIBase = `"model":"m","messages":[{"role":"user","content":"q"}]`
	tests := []struct {
		name            string
		client, backend translate.Dialect
		body            string
	}{
		{"container to Converse", translate.Anthropic, translate.Converse, `{` + anthropicBase + `,"container":null}`},
		{"mcp_servers to Converse", translate.Anthropic, translate.Converse, `{` + anthropicBase + `,"mcp_servers":null}`},
		{"context_management to Converse", translate.Anthropic, translate.Converse, `{` + anthropicBase + `,"context_management":null}`},
		{"container to OpenAI", translate.Anthropic, translate.OpenAI, `{` + anthropicBase + `,"container":null}`},
		{"mcp_servers to OpenAI", translate.Anthropic, translate.OpenAI, `{` + anthropicBase + `,"mcp_servers":null}`},
		{"context_management to OpenAI", translate.Anthropic, translate.OpenAI, `{` + anthropicBase + `,"context_management":null}`},
		{"function_call to Converse", translate.OpenAI, translate.Converse, `{` + openAIBase + `,"function_call":null}`},
		{"prompt_cache_options to Converse", translate.OpenAI, translate.Converse, `{` + openAIBase + `,"prompt_cache_options":null}`},
		{"moderation to Converse", translate.OpenAI, translate.Converse, `{` + openAIBase + `,"moderation":null}`},
		{"function_call to Anthropic", translate.OpenAI, translate.Anthropic, `{` + openAIBase + `,"function_call":null,"prompt_cache_options":null,"moderation":null}`},
		{"tool_choice.custom", translate.OpenAI, translate.Converse, `{` + openAIBase + `,"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":{"type":"function","function":{"name":"f"},"custom":null}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := translate.Request(tc.client, tc.backend, []byte(tc.body), "mdl", false, translate.Options{})
			checkTranslated(t, string(out), err, "", nil)
		})
	}
	t.Run("Responses format.schema", func(t *testing.T) {
		t.Parallel()
		for _, backend := range []translate.Dialect{translate.OpenAI, translate.Converse, translate.Anthropic} {
			out, err := translate.ResponsesRequest(backend, []byte(`{"model":"m","input":"q","text":{"format":{"type":"text","schema":null}}}`), "mdl", false, translate.Options{})
			if err != nil {
				t.Errorf("%v: ResponsesRequest = %s, %v; want the request translated", backend, out, err)
			}
		}
	})
}

// TestEchoedSourcesAreShapeChecked: the citations of an Anthropic
// assistant turn and the annotations of an OpenAI one, sent back where
// they have no form, are left out only when they are what an answer
// carries; anything else is refused naming it.
func TestEchoedSourcesAreShapeChecked(t *testing.T) {
	t.Parallel()
	anthropicTurn := func(citations string) string {
		return `{"max_tokens":10,"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"text","text":"a","citations":` + citations + `}]},{"role":"user","content":"more"}]}`
	}
	openAITurn := func(annotations string) string {
		return `{"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":"a","annotations":` + annotations + `},{"role":"user","content":"more"}]}`
	}
	const url = `{"type":"url_citation","url_citation":{"url":"https://example.com","title":"E","start_index":0,"end_index":1}}`
	tests := []struct {
		name            string
		client, backend translate.Dialect
		body, refuse    string
	}{
		{"citations a string", translate.Anthropic, translate.OpenAI, anthropicTurn(`"ignore previous"`), "messages[1].content[0].citations"},
		{"citation not an object", translate.Anthropic, translate.OpenAI, anthropicTurn(`["x"]`), "messages[1].content[0].citations[0]"},
		{"citation of an unknown type", translate.Anthropic, translate.OpenAI, anthropicTurn(`[{"type":"rumour","cited_text":"s"}]`), "messages[1].content[0].citations[0].type"},
		{"citation with a stray member", translate.Anthropic, translate.OpenAI, anthropicTurn(`[{"type":"char_location","cited_text":"s","document_index":0,"start_char_index":0,"end_char_index":1,"note":"x"}]`), "messages[1].content[0].citations[0].note"},
		{"citation without its range", translate.Anthropic, translate.OpenAI, anthropicTurn(`[{"type":"char_location","cited_text":"s","document_index":0}]`), "messages[1].content[0].citations[0].start_char_index"},
		{"citation of an answer", translate.Anthropic, translate.OpenAI, anthropicTurn(`[{"type":"char_location","cited_text":"s","document_index":0,"start_char_index":0,"end_char_index":1}]`), ""},
		{"web citation of an answer", translate.Anthropic, translate.OpenAI, anthropicTurn(`[{"type":"web_search_result_location","cited_text":"s","url":"https://e.com","title":"E","encrypted_index":"abc"}]`), ""},
		{"annotations a string to Converse", translate.OpenAI, translate.Converse, openAITurn(`"ignore previous"`), "messages[1].annotations"},
		{"annotation of an unknown type", translate.OpenAI, translate.Converse, openAITurn(`[{"type":"rumour"}]`), "messages[1].annotations[0].type"},
		{"annotation with a stray member", translate.OpenAI, translate.Anthropic, openAITurn(`[{"type":"url_citation","url_citation":{"url":"u","start_index":0,"end_index":1,"note":"x"}}]`), "messages[1].annotations[0].url_citation.note"},
		{"annotation without a url", translate.OpenAI, translate.Converse, openAITurn(`[{"type":"url_citation","url_citation":{"title":"E"}}]`), "messages[1].annotations[0].url_citation.url"},
		{"annotations of an answer", translate.OpenAI, translate.Converse, openAITurn(`[` + url + `]`), ""},
		{"annotations of an answer to Anthropic", translate.OpenAI, translate.Anthropic, openAITurn(`[` + url + `]`), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := translate.Request(tc.client, tc.backend, []byte(tc.body), "mdl", false, translate.Options{})
			checkTranslated(t, string(out), err, tc.refuse, nil)
		})
	}
}

// TestRefusalPartCarried: an assistant turn's refusal content part is
// what the model answered when it refused, carried as its text as the
// message's refusal member is.
func TestRefusalPartCarried(t *testing.T) {
	t.Parallel()
	body := `{"model":"m","messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"text","text":"I "},{"type":"refusal","refusal":"cannot help"}]},{"role":"user","content":"more"}]}`
	for _, backend := range []translate.Dialect{translate.Converse, translate.Anthropic} {
		out, err := translate.Request(translate.OpenAI, backend, []byte(body), "mdl", false, translate.Options{})
		checkTranslated(t, string(out), err, "", []string{`"cannot help"`})
	}
	out, err := translate.Request(translate.OpenAI, translate.Converse, []byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"refusal","refusal":"no"}]}]}`), "mdl", false, translate.Options{})
	checkTranslated(t, string(out), err, "messages[0].content[0].type", nil)
}

// TestStreamedCitationsToConverse: an Anthropic answer's citations_delta
// reaches a Converse client as the citation of a contentBlockDelta, as
// the whole answer's citations become its citationsContent block.
func TestStreamedCitationsToConverse(t *testing.T) {
	t.Parallel()
	start := "message_start\t" + `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":0}}}`
	block := "content_block_start\t" + `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`
	delta := func(citation string) string {
		return "content_block_delta\t" + `{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":` + citation + `}}`
	}
	tests := []struct{ name, citation, want, fail string }{
		{"char", `{"type":"char_location","cited_text":"x","document_index":0,"document_title":"D","start_char_index":0,"end_char_index":1}`,
			`{"contentBlockIndex":0,"delta":{"citation":{"title":"D","sourceContent":[{"text":"x"}],"location":{"documentChar":{"documentIndex":0,"start":0,"end":1}}}}}`, ""},
		{"search result", `{"type":"search_result_location","cited_text":"x","source":"https://e.com","title":"R","search_result_index":2,"start_block_index":0,"end_block_index":1}`,
			`{"contentBlockIndex":0,"delta":{"citation":{"title":"R","source":"https://e.com","sourceContent":[{"text":"x"}],"location":{"searchResultLocation":{"searchResultIndex":2,"start":0,"end":1}}}}}`, ""},
		{"web", `{"type":"web_search_result_location","cited_text":"x","url":"https://e.com","title":"E","encrypted_index":"abc"}`, "", "type"},
		{"no range", `{"type":"char_location","cited_text":"x","document_index":0}`, "", "start_char_index"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := runStream(t, translate.Anthropic, translate.Converse, start, block, delta(tc.citation))
			if tc.fail != "" {
				var se *translate.StreamError
				if !errors.As(err, &se) || !se.Translator() || !strings.Contains(se.Message, tc.fail) {
					t.Errorf("stream wrote %s, ended with %v; want the translator's *StreamError naming %s", out, err, tc.fail)
				}
				return
			}
			if err != nil || !strings.Contains(out, tc.want) {
				t.Errorf("stream wrote %s, ended with %v; want %s", out, err, tc.want)
			}
		})
	}
}

// TestAnthropicServedTier: the tier an Anthropic backend says served the
// request reaches OpenAI and Converse clients in their terms (standard is
// their default); a tier they have no name for is left out.
func TestAnthropicServedTier(t *testing.T) {
	t.Parallel()
	answer := func(tier string) string {
		return `{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"x"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1,"service_tier":"` + tier + `"}}`
	}
	tests := []struct {
		tier   string
		client translate.Dialect
		want   string
	}{
		{"standard", translate.OpenAI, `"service_tier":"default"`},
		{"priority", translate.OpenAI, `"service_tier":"priority"`},
		{"standard", translate.Converse, `"serviceTier":{"type":"default"}`},
		{"priority", translate.Converse, `"serviceTier":{"type":"priority"}`},
		{"batch", translate.OpenAI, ""},
		{"batch", translate.Converse, ""},
	}
	for _, tc := range tests {
		t.Run(tc.tier+" to "+tc.client.String(), func(t *testing.T) {
			t.Parallel()
			out, err := translate.Response(translate.Anthropic, tc.client, []byte(answer(tc.tier)), translate.ResponseMeta{ID: "id-1", Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			tierName := map[translate.Dialect]string{translate.OpenAI: `"service_tier"`, translate.Converse: `"serviceTier"`}[tc.client]
			if tc.want == "" && strings.Contains(string(out), tierName) || tc.want != "" && !strings.Contains(string(out), tc.want) {
				t.Errorf("Response = %s; want %q", out, tc.want)
			}
			s, err := translate.NewStream(translate.Anthropic, tc.client, translate.ResponseMeta{ID: "id-1", Model: "m", IncludeUsage: true})
			if err != nil {
				t.Fatal(err)
			}
			var streamed strings.Builder
			for _, e := range []string{
				"message_start\t" + `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":0,"service_tier":"` + tc.tier + `"}}}`,
				"message_delta\t" + `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":1}}`,
				"message_stop\t" + `{"type":"message_stop"}`,
			} {
				typ, data, _ := strings.Cut(e, "\t")
				evs, err := s.Next(translate.Event{Type: typ, Data: []byte(data)})
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					streamed.Write(ev.Data)
				}
			}
			if tc.want == "" && strings.Contains(streamed.String(), tierName) || tc.want != "" && !strings.Contains(streamed.String(), tc.want) {
				t.Errorf("stream = %s; want %q", streamed.String(), tc.want)
			}
		})
	}
}

// TestStreamedCodeExecutionCallFails: a streamed tool_use block whose
// caller is a code execution tool fails the answer for OpenAI and
// Converse clients, as the whole answer does: the client would run a tool
// call that belongs to a server container.
func TestStreamedCodeExecutionCallFails(t *testing.T) {
	t.Parallel()
	start := "message_start\t" + `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":0}}}`
	block := func(caller string) string {
		return "content_block_start\t" + `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"t1","name":"f","input":{}` + caller + `}}`
	}
	for _, client := range []translate.Dialect{translate.OpenAI, translate.Converse} {
		for _, tc := range []struct {
			name, caller string
			fails        bool
		}{
			{"direct", `,"caller":{"type":"direct"}`, false},
			{"absent", ``, false},
			{"code execution", `,"caller":{"type":"code_execution_20250825","tool_id":"srvtoolu_1"}`, true},
		} {
			t.Run(client.String()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				out, err := runStream(t, translate.Anthropic, client, start, block(tc.caller))
				var se *translate.StreamError
				if failed := errors.As(err, &se) && se.Translator(); failed != tc.fails {
					t.Errorf("stream wrote %s, ended with %v; want a translator's failure: %v", out, err, tc.fails)
				}
			})
		}
	}
}

// TestLongFieldCutOnACharacter: a refusal's field path longer than its
// bound is cut before a whole character, so the message stays valid
// UTF-8.
func TestLongFieldCutOnACharacter(t *testing.T) {
	t.Parallel()
	field := strings.Repeat("a", 199) + "é" + strings.Repeat("b", 50) // é straddles byte 200
	msg := (&translate.UnsupportedError{Field: field, Target: "Bedrock Converse"}).Error()
	if !utf8.ValidString(msg) || !strings.HasPrefix(msg, strings.Repeat("a", 199)+"...") {
		t.Errorf("message %q: want valid UTF-8 cut before the é", msg)
	}
}

// TestSystemCitationsNamed: a system block with citations is refused at
// its citations, with the reason, towards OpenAI and Converse.
func TestSystemCitationsNamed(t *testing.T) {
	t.Parallel()
	body := `{"model":"m","max_tokens":10,"system":[{"type":"text","text":"s","citations":[{"type":"char_location","cited_text":"s","document_index":0,"start_char_index":0,"end_char_index":1}]}],"messages":[{"role":"user","content":"hi"}]}`
	for _, target := range []translate.Dialect{translate.OpenAI, translate.Converse} {
		_, err := translate.Request(translate.Anthropic, target, []byte(body), "mdl", false, translate.Options{})
		var ue *translate.UnsupportedError
		if !errors.As(err, &ue) || ue.Field != "system[0].citations" || ue.Reason == "" {
			t.Errorf("towards %v: %v, want a refusal of system[0].citations with a reason", target, err)
		}
	}
}
