package translate_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/bedrockembed"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
	"github.com/meridian-gateway/meridian/internal/translate"
)

func FuzzResponsesRequest(f *testing.F) {
	seed(f, "request", "responses_openai", "responses_converse", "responses_anthropic")
	f.Fuzz(func(t *testing.T, data []byte) {
		var req openai.ResponsesRequest
		if json.Unmarshal(data, &req) != nil {
			return
		}
		o, err := translate.ResponsesToOpenAIRequest(&req)
		redecode(t, o, err)
		c, err := translate.ResponsesToConverseRequest(&req, translate.Options{})
		redecode(t, c, err)
		a, err := translate.ResponsesToAnthropicRequest(&req, translate.Options{})
		redecode(t, a, err)
		for _, d := range []translate.Dialect{translate.OpenAI, translate.Converse, translate.Anthropic} {
			translate.ResponsesRequest(d, data, "m", true, translate.Options{})
		}
		// The front end's form (the Chat body and its path mapper) gives,
		// without the reasoning it carries for Claude, the body and the
		// error ResponsesRequest gives for OpenAI.
		translate.WithoutCarriedReasoning(data)
		for _, stream := range []bool{false, true} {
			want, werr := translate.ResponsesRequest(translate.OpenAI, data, "m", stream, translate.Options{})
			chat, _, gerr := translate.ResponsesChatRequest(data, "m", stream)
			got := translate.WithoutCarriedReasoning(chat)
			if gerr == nil {
				// The Chat body, translated as a deployment does, gives
				// the messages ResponsesRequest gives (reasoning put back
				// included).
				for _, d := range []translate.Dialect{translate.Converse, translate.Anthropic} {
					out, err := translate.Request(translate.OpenAI, d, chat, "m", stream, translate.Options{})
					twin, terr := translate.ResponsesRequest(d, data, "m", stream, translate.Options{})
					if err != nil || terr != nil {
						continue
					}
					var a, b struct{ Messages json.RawMessage }
					if json.Unmarshal(out, &a) != nil || json.Unmarshal(twin, &b) != nil || !bytes.Equal(a.Messages, b.Messages) {
						t.Fatalf("%v: Request(ResponsesChatRequest) messages %s; ResponsesRequest messages %s", d, a.Messages, b.Messages)
					}
				}
			}
			if !bytes.Equal(got, want) || fmt.Sprint(gerr) != fmt.Sprint(werr) {
				t.Fatalf("stream %v: ResponsesChatRequest = %s, %v; ResponsesRequest = %s, %v", stream, got, gerr, want, werr)
			}
		}
	})
}

// checkResponsesStream checks sequence numbers count up from 0 and every
// event re-decodes.
func checkResponsesStream(t *testing.T, evs []openai.ResponseStreamEvent, next *int64) {
	t.Helper()
	for i := range evs {
		if evs[i].SequenceNumber != *next {
			t.Fatalf("sequence_number %d, want %d", evs[i].SequenceNumber, *next)
		}
		*next++
		redecode(t, &evs[i], nil)
	}
}

// FuzzResponsesBackend feeds backend responses and event lists of every
// dialect to the translators into the Responses API.
func FuzzResponsesBackend(f *testing.F) {
	for _, kind := range []string{"response", "stream"} {
		seed(f, kind, "responses_openai", "responses_converse", "responses_anthropic")
	}
	req := &openai.ResponsesRequest{Model: "m"}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, d := range []translate.Dialect{translate.OpenAI, translate.Converse, translate.Anthropic} {
			if b, err := translate.ResponsesResponse(d, req, data, rmeta); err == nil {
				if err := json.Unmarshal(b, new(openai.Response)); err != nil {
					t.Fatalf("re-decode of %s: %v", b, err)
				}
			}
		}
		var next int64
		if chunks, err := openAIChunks(data); err == nil {
			s := translate.NewOpenAIToResponsesStream(req, rmeta)
			for _, c := range chunks {
				if c == nil {
					continue
				}
				evs, err := s.Chunk(c)
				checkResponsesStream(t, evs, &next)
				if err != nil {
					checkResponsesStream(t, s.Fail(err), &next)
					break
				}
			}
			checkResponsesStream(t, s.Finish(), &next)
		}
		next = 0
		if evs, err := converseEvents(data); err == nil {
			s := translate.NewConverseToResponsesStream(req, rmeta)
			for _, e := range evs {
				out, err := s.Event(e)
				checkResponsesStream(t, out, &next)
				if err != nil {
					break
				}
			}
			checkResponsesStream(t, s.Finish(), &next)
		}
		next = 0
		if evs, err := anthropicEvents(data); err == nil {
			s := translate.NewAnthropicToResponsesStream(req, rmeta)
			for _, e := range evs {
				if e == nil {
					continue
				}
				out, err := s.Event(e)
				checkResponsesStream(t, out, &next)
				if err != nil {
					checkResponsesStream(t, s.Fail(err), &next)
					break
				}
			}
			checkResponsesStream(t, s.Finish(), &next)
		}
	})
}

func FuzzEmbeddings(f *testing.F) {
	seed(f, "request", "embeddings_titan", "embeddings_titan_v1", "embeddings_titan_multimodal", "embeddings_cohere")
	seed(f, "response", "embeddings_titan", "embeddings_titan_multimodal", "embeddings_cohere")
	f.Fuzz(func(t *testing.T, data []byte) {
		if req, err := translate.DecodeEmbeddingsRequest(data); err == nil {
			for _, fam := range []translate.EmbedFamily{translate.Titan, translate.TitanV1, translate.TitanMultimodal, translate.Cohere} {
				bodies, err := translate.EmbeddingsRequest(fam, req, translate.EmbedOptions{CohereV4: true})
				if err == nil && fam != translate.Cohere && len(bodies) != req.Input.Len() {
					t.Fatalf("%d Titan bodies for %d inputs", len(bodies), req.Input.Len())
				}
			}
		}
		var ti struct {
			Request   openai.EmbeddingRequest       `json:"request"`
			Responses []*bedrockembed.TitanResponse `json:"responses"`
			Response  bedrockembed.CohereResponse   `json:"response"`
		}
		if json.Unmarshal(data, &ti) != nil {
			return
		}
		r, err := translate.TitanToEmbeddingsResponse(&ti.Request, ti.Responses, translate.EmbedMeta{})
		redecode(t, r, err)
		r, err = translate.CohereToEmbeddingsResponse(&ti.Request, &ti.Response, translate.EmbedMeta{})
		redecode(t, r, err)
	})
}

// FuzzWithoutCarriedReasoning: the OpenAI backend runs it on every
// pass-through Chat body (internal/backend/openai.go). A body without the
// marker comes back byte-equal (the same slice); valid JSON stays valid;
// the result is a fixed point; and when a messages list was rewritten, no
// message of it has a reasoning_content that carries Claude's reasoning.
func FuzzWithoutCarriedReasoning(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[],"reasoning_content":"meridian.r1.W10"}]}`))
	f.Add([]byte(`{"messages":[{"reasoning_content":"meridian.r1.","reasoning_content":"meridian.r1.x"}],"messages":[]}`))
	f.Add([]byte(`{"messages":[{"role":"assistant","reasoning_content":"I think."}]}`))
	f.Add([]byte(`{"messages":[{"role":"user","content":"meridian.r1.x"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		out := translate.WithoutCarriedReasoning(data)
		if !bytes.Contains(data, []byte(`"meridian.r1.`)) && (len(out) != len(data) || len(data) > 0 && &out[0] != &data[0]) {
			t.Fatalf("%s without the marker became %s", data, out)
		}
		if !json.Valid(data) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%s became %s", data, out)
		}
		if again := translate.WithoutCarriedReasoning(out); !bytes.Equal(again, out) {
			t.Fatalf("%s: once %s, twice %s", data, out, again)
		}
		if bytes.Equal(out, data) {
			return
		}
		var body map[string]json.RawMessage
		var msgs []json.RawMessage
		if json.Unmarshal(out, &body) != nil || json.Unmarshal(body["messages"], &msgs) != nil {
			t.Fatalf("%s: changed to %s, which has no messages list", data, out)
		}
		for i, raw := range msgs {
			var m map[string]json.RawMessage
			var s string
			if json.Unmarshal(raw, &m) == nil && json.Unmarshal(m["reasoning_content"], &s) == nil && strings.HasPrefix(s, "meridian.r1.") {
				t.Fatalf("%s: messages[%d] still carries reasoning in %s", data, i, out)
			}
		}
	})
}
