package mockllm

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzChatRequest feeds arbitrary bodies to the request decoder and, for
// those it accepts, checks the completion plan's invariants: it never
// panics, respects max_tokens, never contains a stop sequence, and the usage
// it will report matches its deltas; JSON mode's answer read from the
// prompt is a JSON object, and the prompt cache's prefixes fit the prompt.
func FuzzChatRequest(f *testing.F) {
	for _, seed := range []string{
		`{"model":"m","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}`,
		`{"model":"m","max_tokens":3,"stop":["ar"," the"],"messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url"}]}]}`,
		`{"model":"m","max_completion_tokens":1,"seed":-4,"stop":"e","messages":[{"role":"assistant","content":null},{"role":"tool","content":"x"}]}`,
		`{"model":"\u0000\"<>","messages":[{"role":"developer","content":"\ud800"}]}`,
		`{"model":"m","messages":[{"role":"user","content":7}]}`,
		`{"model":`, `null`, `[]`, `""`,
		`{"model":"m","response_format":{"type":"json_object"},"messages":[{"role":"system","content":"Answer as {\"a\": 1} or per {\"type\":\"object\",\"properties\":{\"b\":{\"type\":\"string\"}}}"},{"role":"user","content":"{{{{\"x\":"}]}`,
		`{"model":"m","logprobs":true,"top_logprobs":20,"messages":[{"role":"user","content":"hi"}]}`,
	} {
		f.Add([]byte(seed), int64(0), 0)
	}
	f.Fuzz(func(t *testing.T, body []byte, seed int64, length int) {
		var req chatRequest
		if e := decodeChatRequest(body, &req); e != nil {
			if e.status != 400 || e.message == "" {
				t.Fatalf("decodeChatRequest(%q) = %d %q, want a 400 with a message", body, e.status, e.message)
			}
			return
		}
		length = min(max(length, 0), 1000)
		c := planCompletion(seed, length, &req, nil)
		if max := req.maxTokens(); max > 0 && len(c.tokens) > max {
			t.Fatalf("planCompletion(%q) made %d tokens, want <= max_tokens %d", body, len(c.tokens), max)
		}
		if length > 0 && len(c.tokens) > length {
			t.Fatalf("planCompletion(%q, length %d) made %d tokens", body, length, len(c.tokens))
		}
		text := strings.Join(c.tokens, "")
		for _, s := range req.Stop {
			if s != "" && strings.Contains(text, s) {
				t.Fatalf("completion %q contains stop sequence %q", text, s)
			}
		}
		for _, tok := range c.tokens {
			if tok == "" {
				t.Fatalf("completion %q has an empty delta", c.tokens)
			}
		}
		if p := promptTokens(&req); p < 4*len(req.Messages) {
			t.Fatalf("promptTokens = %d for %d messages, want >= 4 each", p, len(req.Messages))
		}
		// JSON mode's answer, read from the prompt, is always one JSON
		// object; the cache's prefixes never exceed the prompt and grow
		// with it.
		if v, ok := promptJSON(&req); ok {
			var m map[string]any
			if json.Unmarshal([]byte(v), &m) != nil {
				t.Fatalf("promptJSON(%q) = %q, not a JSON object", body, v)
			}
		}
		last := 0
		for _, p := range openAIPrefixes(&req, promptTokens(&req)) {
			if p.tokens < last || p.tokens > promptTokens(&req) || p.tokens%openAICacheBlock != 0 {
				t.Fatalf("prefix of %d tokens after %d, prompt %d", p.tokens, last, promptTokens(&req))
			}
			last = p.tokens
		}
		again := planCompletion(seed, length, &req, nil)
		if strings.Join(again.tokens, "") != text || again.finish != c.finish {
			t.Fatalf("planCompletion is not deterministic for %q", body)
		}
	})
}

// FuzzBedrockEmbed feeds arbitrary bodies to the Titan and Cohere
// decoders of every embedding family and, for those they accept, checks
// the answer: one vector per input, of the requested dimensions, a
// positive token count, and an answer that encodes. A refusal is an
// embedError in the validator's words, bounded in length whatever the body.
func FuzzBedrockEmbed(f *testing.F) {
	for _, seed := range []string{
		`{"inputText":"hello"}`,
		`{"inputText":"hello","dimensions":256,"normalize":false,"embeddingTypes":["float","binary","float"]}`,
		`{"inputText":"a","dimensions":1e3}`, `{"inputText":"a","dimensions":-256}`, `{"inputText":"\ud800"}`,
		`{"texts":["a","b"],"input_type":"search_document"}`,
		`{"texts":["a"],"input_type":"search_query","truncate":"END","embedding_types":["int8","uint8","binary","ubinary","float"]}`,
		`{"texts":["a"],"input_type":"clustering","output_dimension":256,"max_tokens":10,"truncate":"LEFT"}`,
		`{"images":["data:image/png;base64,AAAA"],"input_type":"image"}`,
		`{"inputs":[{"content":[{"type":"text","text":"x"}]}],"input_type":"classification"}`,
		`{"inputs":[{}],"input_type":"classification"}`,
		`{"inputText":"a cat","inputImage":"AAAA","embeddingConfig":{"outputEmbeddingLength":384}}`, `{"inputImage":"%%"}`, `{"inputText":"a","embeddingConfig":[]}`, `{"inputs":{},"input_type":"classification"}`,
		`{"messages":[{"role":"user","content":"hi"}]}`,
		`{"inputText":null}`, `{"texts":null,"input_type":null}`, `{}`, `null`, `[]`, `"x"`, `{"a":`, ``,
	} {
		f.Add([]byte(seed))
	}
	models := map[embedFamily]string{titanV1: "amazon.titan-embed-text-v1", titanV2: "amazon.titan-embed-text-v2:0", titanImage: "amazon.titan-embed-image-v1",
		cohereV3: "cohere.embed-english-v3", cohereV4: "cohere.embed-v4:0"}
	f.Fuzz(func(t *testing.T, body []byte) {
		for fam, model := range models {
			job, err := decodeEmbed(fam, model, body)
			if err != nil {
				if _, ok := err.(embedError); !ok || err.Error() == "" || len(err.Error()) > 200 {
					t.Fatalf("decodeEmbed(%s, %q) = %T %q, want a short embedError", model, body, err, err)
				}
				continue
			}
			if len(job.inputs) == 0 || job.tokens <= 0 || job.dims <= 0 {
				t.Fatalf("decodeEmbed(%s, %q) accepted %d inputs, %d tokens, %d dimensions", model, body, len(job.inputs), job.tokens, job.dims)
			}
			var answer any
			if fam == titanV1 || fam == titanV2 || fam == titanImage {
				answer = job.titanAnswer()
			} else {
				answer = job.cohereAnswer(body)
			}
			b, err := json.Marshal(answer)
			if err != nil {
				t.Fatalf("answer to %s %q does not encode: %v", model, body, err)
			}
			for typ, vecs := range answerVectors(t, fam, b) {
				want := job.dims
				if typ == "binary" && fam != titanV2 || typ == "ubinary" {
					want = (job.dims + 7) / 8
				}
				if len(vecs) != len(job.inputs) {
					t.Fatalf("answer to %s %q has %d %s vectors for %d inputs", model, body, len(vecs), typ, len(job.inputs))
				}
				for i, v := range vecs {
					if len(v) != want {
						t.Fatalf("answer to %s %q: %s vector %d has %d components, want %d", model, body, typ, i, len(v), want)
					}
				}
			}
		}
	})
}

// answerVectors reads the vectors of an encoded Titan or Cohere answer by
// type ("embedding" for Titan's top-level float vector).
func answerVectors(t *testing.T, fam embedFamily, b []byte) map[string][][]json.RawMessage {
	if fam == titanV1 || fam == titanV2 || fam == titanImage {
		var r struct {
			Embedding        []json.RawMessage
			EmbeddingsByType map[string][]json.RawMessage
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		out := map[string][][]json.RawMessage{"embedding": {r.Embedding}}
		for typ, v := range r.EmbeddingsByType {
			out[typ] = [][]json.RawMessage{v}
		}
		return out
	}
	var r struct {
		Embeddings   json.RawMessage
		ResponseType string `json:"response_type"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if r.ResponseType == "embeddings_floats" {
		var v [][]json.RawMessage
		if err := json.Unmarshal(r.Embeddings, &v); err != nil {
			t.Fatalf("embeddings %s: %v", r.Embeddings, err)
		}
		return map[string][][]json.RawMessage{"float": v}
	}
	var byType map[string][][]json.RawMessage
	if err := json.Unmarshal(r.Embeddings, &byType); err != nil || len(byType) == 0 {
		t.Fatalf("embeddings by type %s: %v", r.Embeddings, err)
	}
	return byType
}
