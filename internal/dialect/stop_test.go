package dialect

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// filtered is an answer the provider's safety system stopped, in each
// backend dialect, whole and as a stream.
var filtered = []struct {
	name    string
	from    translate.Dialect
	body    string
	stream  []translate.Event
	natural string // the client API's own name, when client == from
}{
	{name: "openai content_filter", from: translate.OpenAI,
		body: `{"id":"c","object":"chat.completion","created":0,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"I"},"finish_reason":"content_filter"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`,
		stream: []translate.Event{
			{Data: []byte(`{"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"I"},"finish_reason":null}]}`)},
			{Data: []byte(`{"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"content_filter"}]}`)},
			{Data: []byte(`{"id":"c","object":"chat.completion.chunk","created":0,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)},
		}},
	{name: "converse content_filtered", from: translate.Converse,
		body:   `{"output":{"message":{"role":"assistant","content":[{"text":"I"}]}},"stopReason":"content_filtered","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}`,
		stream: converseStream("content_filtered")},
	{name: "converse guardrail_intervened", from: translate.Converse,
		body:   `{"output":{"message":{"role":"assistant","content":[{"text":"I"}]}},"stopReason":"guardrail_intervened","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}`,
		stream: converseStream("guardrail_intervened")},
	{name: "anthropic refusal", from: translate.Anthropic,
		body: `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"I"}],"stop_reason":"refusal","stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}`,
		stream: []translate.Event{
			{Type: "message_start", Data: []byte(`{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":0}}}`)},
			{Type: "content_block_start", Data: []byte(`{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)},
			{Type: "content_block_delta", Data: []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"I"}}`)},
			{Type: "content_block_stop", Data: []byte(`{"type":"content_block_stop","index":0}`)},
			{Type: "message_delta", Data: []byte(`{"type":"message_delta","delta":{"stop_reason":"refusal","stop_sequence":null},"usage":{"output_tokens":1}}`)},
			{Type: "message_stop", Data: []byte(`{"type":"message_stop"}`)},
		}},
}

func converseStream(stop string) []translate.Event {
	return []translate.Event{
		{Type: "messageStart", Data: []byte(`{"role":"assistant"}`)},
		{Type: "contentBlockDelta", Data: []byte(`{"contentBlockIndex":0,"delta":{"text":"I"}}`)},
		{Type: "contentBlockStop", Data: []byte(`{"contentBlockIndex":0}`)},
		{Type: "messageStop", Data: []byte(`{"stopReason":"` + stop + `"}`)},
		{Type: "metadata", Data: []byte(`{"usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}`)},
	}
}

// stopField finds the stop reason in a client dialect's output: the last
// string value of its member (a stream repeats it as null first).
var stopField = map[translate.Dialect]*regexp.Regexp{
	translate.OpenAI:    regexp.MustCompile(`"finish_reason":"([a-z_]+)"`),
	translate.Converse:  regexp.MustCompile(`"stopReason":"([a-z_]+)"`),
	translate.Anthropic: regexp.MustCompile(`"stop_reason":"([a-z_]+)"`),
}

func lastMatch(re *regexp.Regexp, b []byte) string {
	m := re.FindAllSubmatch(b, -1)
	if len(m) == 0 {
		return ""
	}
	return string(m[len(m)-1][1])
}

// TestContentFilteredStopEveryPath pins the stop reason of an answer the
// provider's safety system stopped, on every path to every client API:
// Anthropic refusal, OpenAI content_filter, Converse content_filtered
// (guardrail_intervened when a Converse backend said so and the answer
// passed through), Responses incomplete for content_filter. The paths are
// a canonical answer (a backend that re-encoded it: the renderers the
// front ends call) and each translator, whole and streamed.
func TestContentFilteredStopEveryPath(t *testing.T) {
	t.Parallel()
	want := map[translate.Dialect]string{translate.OpenAI: "content_filter", translate.Converse: "content_filtered", translate.Anthropic: "refusal"}

	// A canonical answer, as the front ends render it.
	canonical := map[translate.Dialect]string{
		translate.OpenAI:    OpenAIFinishReason(inference.StopContentFiltered),
		translate.Converse:  ConverseStopReason(inference.StopContentFiltered),
		translate.Anthropic: AnthropicStopReason(inference.StopContentFiltered),
	}
	for client, got := range canonical {
		if got != want[client] {
			t.Errorf("canonical to %v: %q, want %q", client, got, want[client])
		}
	}
	b, _ := json.Marshal(AnthropicResponse("msg_1", "m", &inference.Response{StopReason: inference.StopContentFiltered}))
	if got := lastMatch(stopField[translate.Anthropic], b); got != want[translate.Anthropic] {
		t.Errorf("canonical AnthropicResponse: stop_reason %q, want %q", got, want[translate.Anthropic])
	}

	meta := translate.ResponseMeta{ID: "x_1", Model: "m", Created: 1}
	for _, f := range filtered {
		for _, client := range []translate.Dialect{translate.OpenAI, translate.Converse, translate.Anthropic} {
			if client == f.from {
				continue // passed through as the backend said it
			}
			out, err := translate.Response(f.from, client, []byte(f.body), meta)
			if got := lastMatch(stopField[client], out); err != nil || got != want[client] {
				t.Errorf("%s to %v: %q, %v, want %q\n%s", f.name, client, got, err, want[client], out)
			}
			s, err := translate.NewStream(f.from, client, meta)
			if err != nil {
				t.Fatal(err)
			}
			var all []byte
			for _, e := range f.stream {
				evs, err := s.Next(e)
				if err != nil {
					t.Fatalf("%s streamed to %v: %v", f.name, client, err)
				}
				for _, ev := range evs {
					all = append(all, ev.Data...)
				}
			}
			evs, err := s.Finish()
			for _, ev := range evs {
				all = append(all, ev.Data...)
			}
			if got := lastMatch(stopField[client], all); err != nil || got != want[client] {
				t.Errorf("%s streamed to %v: %q, %v, want %q\n%s", f.name, client, got, err, want[client], all)
			}
		}
	}

	// Responses: every backend's answer (and a canonical one, which the
	// front end renders as a chat completion with OpenAIFinishReason) is
	// an incomplete response for content_filter.
	rreq, err := translate.DecodeResponsesRequest([]byte(`{"model":"m","input":"hi"}`))
	if err != nil {
		t.Fatal(err)
	}
	reason := regexp.MustCompile(`"incomplete_details":\{"reason":"([a-z_]+)"\}`)
	for _, f := range filtered {
		out, err := translate.ResponsesResponse(f.from, rreq, []byte(f.body), meta)
		if got := lastMatch(reason, out); err != nil || got != "content_filter" {
			t.Errorf("%s to Responses: %q, %v, want content_filter\n%s", f.name, got, err, out)
		}
		s, err := translate.NewResponsesStream(f.from, rreq, meta)
		if err != nil {
			t.Fatal(err)
		}
		var all []byte
		for _, e := range f.stream {
			evs, err := s.Next(e)
			if err != nil {
				t.Fatalf("%s streamed to Responses: %v", f.name, err)
			}
			for _, ev := range evs {
				all = append(all, ev.Data...)
			}
		}
		evs, err := s.Finish()
		for _, ev := range evs {
			all = append(all, ev.Data...)
		}
		if got := lastMatch(reason, all); err != nil || got != "content_filter" {
			t.Errorf("%s streamed to Responses: %q, %v, want content_filter\n%s", f.name, got, err, all)
		}
	}
}
