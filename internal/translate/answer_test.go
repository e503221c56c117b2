package translate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestAnswersTolerateNewMembers checks that answers carrying members an
// upstream added inside parts this package knows are shown, that a part
// with no client form still fails naming it and the deployment's API and
// the client's (an *AnswerError), and that served tiers reach
// the client only under names its dialect defines.
func TestAnswersTolerateNewMembers(t *testing.T) {
	t.Parallel()
	O, C, A := translate.OpenAI, translate.Converse, translate.Anthropic
	cv := func(content, extra string) string {
		return `{"output":{"message":{"role":"assistant","content":[` + content + `]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}` + extra + `}`
	}
	oa := func(tier string) string {
		return `{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2},"service_tier":"` + tier + `"}`
	}
	const loc = `"location":{"documentChar":{"documentIndex":0,"start":0,"end":1}}`
	tests := []struct {
		name            string
		backend, client translate.Dialect
		body            string
		field           string // refused member; "" when shown
		want, not       []string
	}{
		{"citation with a new member", C, A, cv(`{"citationsContent":{"content":[{"text":"a"}],"citations":[{"title":"t","newField":1,"sourceContent":[{"text":"s","newToo":2}],`+loc+`}]}}`, ""), "",
			[]string{`"citations":[{"type":"char_location","cited_text":"s","document_index":0,"document_title":"t","start_char_index":0,"end_char_index":1}]`}, nil},
		{"citation location with a new member", C, A, cv(`{"citationsContent":{"content":[{"text":"a"}],"citations":[{"sourceContent":[{"text":"s"}],"location":{"documentPage":{"documentIndex":0,"start":1,"end":2,"x":true}}}]}}`, ""), "",
			[]string{`"type":"page_location"`}, nil},
		{"citation with two locations", C, A, cv(`{"citationsContent":{"content":[{"text":"a"}],"citations":[{"sourceContent":[{"text":"s"}],"location":{"documentChar":{"documentIndex":0,"start":0,"end":1},"documentPage":{"documentIndex":0,"start":1,"end":2}}}]}}`, ""),
			"output.message.content[0].citationsContent.citations[0].location", nil, nil},
		{"citation with a location of a new kind", C, A, cv(`{"citationsContent":{"content":[{"text":"a"}],"citations":[{"sourceContent":[{"text":"s"}],"location":{"newLocation":{"x":1}}}]}}`, ""),
			"output.message.content[0].citationsContent.citations[0].location", nil, nil},
		{"null citationsContent beside text", C, A, cv(`{"citationsContent":null,"text":"a"}`, ""), "", []string{`"text":"a"`}, nil},
		{"block of a new kind", C, O, cv(`{"text":"a"},{"newThing":{"x":1}}`, ""), "output.message.content[1].newThing", nil, nil},
		{"empty block", C, O, cv(`{"text":"a"},{}`, ""), "output.message.content[1]", nil, nil},
		// Served tiers.
		{"converse reserved to openai", C, O, cv(`{"text":"a"}`, `,"serviceTier":{"type":"reserved"}`), "", nil, []string{`service_tier`}},
		{"converse reserved to anthropic", C, A, cv(`{"text":"a"}`, `,"serviceTier":{"type":"reserved"}`), "", nil, []string{`service_tier`}},
		{"converse flex to anthropic", C, A, cv(`{"text":"a"}`, `,"serviceTier":{"type":"flex"}`), "", nil, []string{`service_tier`}},
		{"converse priority to anthropic", C, A, cv(`{"text":"a"}`, `,"serviceTier":{"type":"priority"}`), "", []string{`"service_tier":"priority"`}, nil},
		{"converse default to anthropic", C, A, cv(`{"text":"a"}`, `,"serviceTier":{"type":"default"}`), "", []string{`"service_tier":"standard"`}, nil},
		{"converse flex to openai", C, O, cv(`{"text":"a"}`, `,"serviceTier":{"type":"flex"}`), "", []string{`"service_tier":"flex"`}, nil},
		{"openai scale to converse", O, C, oa("scale"), "", nil, []string{`serviceTier`}},
		{"openai flex to converse", O, C, oa("flex"), "", []string{`"serviceTier":{"type":"flex"}`}, nil},
		{"openai flex to anthropic", O, A, oa("flex"), "", nil, []string{`service_tier`}},
		{"openai scale to anthropic", O, A, oa("scale"), "", nil, []string{`service_tier`}},
		{"openai default to anthropic", O, A, oa("default"), "", []string{`"service_tier":"standard"`}, nil},
		// Anthropic citations towards OpenAI.
		{"anthropic empty citations to openai", A, O, `{"id":"m","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"a","citations":{"enabled":false}}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}`, "", []string{`"content":"a"`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := translate.Response(tc.backend, tc.client, []byte(tc.body), translate.ResponseMeta{ID: "id", Model: "m"})
			if tc.field != "" {
				var ue *translate.UnsupportedError
				var ae *translate.AnswerError
				if !errors.As(err, &ue) || ue.Field != tc.field || !errors.As(err, &ae) || ae.Backend == "" || ae.Client == "" ||
					!strings.Contains(err.Error(), ae.Backend+" API") || !strings.Contains(err.Error(), ae.Client+" API") {
					t.Fatalf("Response = %v, want an answer error of %s naming both APIs", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("Response: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("Response =\n %s\nwant it to contain %s", out, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(string(out), n) {
					t.Errorf("Response =\n %s\nwant no %s", out, n)
				}
			}
		})
	}
}

// TestStreamsTolerateEmptyParts checks that a Converse stream's empty
// start or delta, and a citation with a member added tomorrow, do not fail
// a client's stream mid-answer.
func TestStreamsTolerateEmptyParts(t *testing.T) {
	t.Parallel()
	ev := func(typ, data string) translate.Event { return translate.Event{Type: typ, Data: []byte(data)} }
	start := ev("messageStart", `{"role":"assistant"}`)
	text := ev("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"hi"}}`)
	stop := ev("messageStop", `{"stopReason":"end_turn"}`)
	tests := []struct {
		name   string
		client translate.Dialect
		evs    []translate.Event
		want   string
	}{
		{"event of a new type to openai", translate.OpenAI, []translate.Event{start, ev("newEvent", `{"x":1}`), text, stop}, `"content":"hi"`},
		{"event of a new type to anthropic", translate.Anthropic, []translate.Event{start, ev("newEvent", `{"x":1}`), text, stop}, `"text":"hi"`},
		{"empty delta to openai", translate.OpenAI, []translate.Event{start, ev("contentBlockDelta", `{"contentBlockIndex":0,"delta":{}}`), text, stop}, `"content":"hi"`},
		{"empty delta to anthropic", translate.Anthropic, []translate.Event{start, ev("contentBlockDelta", `{"contentBlockIndex":0,"delta":{}}`), text, stop}, `"text":"hi"`},
		{"empty start to anthropic", translate.Anthropic, []translate.Event{start, ev("contentBlockStart", `{"contentBlockIndex":0,"start":{}}`), text, stop}, `"text":"hi"`},
		{"null citation delta beside text to openai", translate.OpenAI, []translate.Event{start, ev("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"hi","citation":null}}`), stop}, `"content":"hi"`},
		{"citation delta with a new member", translate.Anthropic, []translate.Event{start, text,
			ev("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"citation":{"title":"t","new":1,"sourceContent":[{"text":"s"}],"location":{"documentChar":{"documentIndex":0,"start":0,"end":1}}}}}`), stop}, `"citations_delta"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, err := translate.NewStream(translate.Converse, tc.client, translate.ResponseMeta{ID: "id", Model: "m"})
			if err != nil {
				t.Fatal(err)
			}
			var all strings.Builder
			for i, e := range tc.evs {
				out, err := s.Next(e)
				if err != nil {
					t.Fatalf("event %d (%s): %v", i, e.Data, err)
				}
				for _, o := range out {
					all.Write(o.Data)
				}
			}
			if !strings.Contains(all.String(), tc.want) {
				t.Errorf("stream = %s, want %s", all.String(), tc.want)
			}
		})
	}
}

// TestStreamFailureNamesThePart checks that a stream part of a kind this
// package does not know fails the stream naming it.
func TestStreamFailureNamesThePart(t *testing.T) {
	t.Parallel()
	for _, client := range []translate.Dialect{translate.OpenAI, translate.Anthropic} {
		s, err := translate.NewStream(translate.Converse, client, translate.ResponseMeta{ID: "id", Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Next(translate.Event{Type: "messageStart", Data: []byte(`{"role":"assistant"}`)}); err != nil {
			t.Fatal(err)
		}
		_, err = s.Next(translate.Event{Type: "contentBlockDelta", Data: []byte(`{"contentBlockIndex":0,"delta":{"hologram":{"x":1}}}`)})
		var se *translate.StreamError
		if !errors.As(err, &se) || !strings.Contains(se.Message, "hologram") {
			t.Errorf("%v: Next(delta of a new kind) = %v, want a StreamError naming hologram", client, err)
		}
	}
}
