package translate_test

import (
	"errors"
	"strings"
	"testing"

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
