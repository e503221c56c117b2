package translate_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// seed adds every golden input of the given directions and kind.
func seed(f *testing.F, kind string, dirs ...string) {
	for _, d := range dirs {
		files, _ := filepath.Glob(filepath.Join("testdata", d, "*", kind+".in.json"))
		for _, p := range files {
			b, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
}

// redecode checks that a translator's output encodes and decodes as its type.
func redecode[T any](t *testing.T, v *T, err error) {
	t.Helper()
	if err != nil || v == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	if err := json.Unmarshal(b, new(T)); err != nil {
		t.Fatalf("re-decode %T of %s: %v", v, b, err)
	}
}

func FuzzOpenAIRequest(f *testing.F) {
	seed(f, "request", "openai_converse", "openai_anthropic")
	f.Fuzz(func(t *testing.T, data []byte) {
		var req openai.ChatCompletionRequest
		if json.Unmarshal(data, &req) != nil {
			return
		}
		for _, f := range families {
			var req openai.ChatCompletionRequest
			json.Unmarshal(data, &req)
			c, err := translate.OpenAIToConverseRequest(&req, translate.Options{Family: f})
			redecode(t, c, err)
		}
		a, err := translate.OpenAIToAnthropicRequest(&req, translate.Options{})
		redecode(t, a, err)
	})
}

func FuzzConverseRequest(f *testing.F) {
	seed(f, "request", "converse_openai", "converse_anthropic")
	f.Fuzz(func(t *testing.T, data []byte) {
		var req converse.Request
		if json.Unmarshal(data, &req) != nil {
			return
		}
		o, err := translate.ConverseToOpenAIRequest(&req, "m", true)
		redecode(t, o, err)
		a, err := translate.ConverseToAnthropicRequest(&req, translate.Options{})
		redecode(t, a, err)
	})
}

func FuzzAnthropicRequest(f *testing.F) {
	seed(f, "request", "anthropic_openai", "anthropic_converse")
	f.Fuzz(func(t *testing.T, data []byte) {
		var req anthropic.Request
		if json.Unmarshal(data, &req) != nil {
			return
		}
		o, err := translate.AnthropicToOpenAIRequest(&req, "m")
		redecode(t, o, err)
		for _, f := range families {
			var req anthropic.Request
			json.Unmarshal(data, &req)
			c, err := translate.AnthropicToConverseRequest(&req, translate.Options{Family: f})
			redecode(t, c, err)
		}
	})
}

// families are the Converse model families a request is translated for.
var families = []translate.ConverseFamily{translate.FamilyClaude, translate.FamilyNova, translate.FamilyNovaReasoning, translate.FamilyGPTOSS, translate.FamilyMistralTopK, translate.FamilyOther}

// FuzzOpenAIResponse feeds OpenAI responses and chunk lists to the
// translators whose backend speaks OpenAI.
func FuzzOpenAIResponse(f *testing.F) {
	seed(f, "response", "converse_openai", "anthropic_openai")
	seed(f, "stream", "converse_openai", "anthropic_openai")
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp openai.ChatCompletion
		if json.Unmarshal(data, &resp) == nil {
			c, err := translate.OpenAIToConverseResponse(&resp, meta)
			redecode(t, c, err)
			a, err := translate.OpenAIToAnthropicResponse(&resp, meta)
			redecode(t, a, err)
		}
		var chunks []*openai.ChatCompletionChunk
		if json.Unmarshal(data, &chunks) != nil {
			return
		}
		cs, as := translate.NewOpenAIToConverseStream(meta), translate.NewOpenAIToAnthropicStream(meta)
		for _, c := range chunks {
			if c == nil {
				continue
			}
			evs, _ := cs.Chunk(c)
			for _, e := range evs {
				if _, err := e.Payload(); err != nil {
					t.Fatalf("payload: %v", err)
				}
			}
			aevs, _ := as.Chunk(c)
			for _, e := range aevs {
				redecode(t, e, nil)
			}
		}
		cs.Finish()
		as.Finish()
	})
}

// FuzzConverseResponse feeds Converse responses and event lists to the
// translators whose backend speaks Converse.
func FuzzConverseResponse(f *testing.F) {
	seed(f, "response", "openai_converse", "anthropic_converse")
	seed(f, "stream", "openai_converse", "anthropic_converse")
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp converse.Response
		if json.Unmarshal(data, &resp) == nil {
			o, err := translate.ConverseToOpenAIResponse(&resp, meta)
			redecode(t, o, err)
			a, err := translate.ConverseToAnthropicResponse(&resp, meta)
			redecode(t, a, err)
		}
		evs, err := converseEvents(data)
		if err != nil {
			return
		}
		os, as := translate.NewConverseToOpenAIStream(meta), translate.NewConverseToAnthropicStream(meta)
		for _, e := range evs {
			cs, _ := os.Event(e)
			for i := range cs {
				redecode(t, &cs[i], nil)
			}
			aevs, _ := as.Event(e)
			for _, a := range aevs {
				redecode(t, a, nil)
			}
		}
	})
}

// FuzzAnthropicResponse feeds Messages responses and event lists to the
// translators whose backend speaks Anthropic Messages.
func FuzzAnthropicResponse(f *testing.F) {
	seed(f, "response", "openai_anthropic", "converse_anthropic")
	seed(f, "stream", "openai_anthropic", "converse_anthropic")
	f.Fuzz(func(t *testing.T, data []byte) {
		var resp anthropic.Response
		if json.Unmarshal(data, &resp) == nil {
			o, err := translate.AnthropicToOpenAIResponse(&resp, meta)
			redecode(t, o, err)
			c, err := translate.AnthropicToConverseResponse(&resp, meta)
			redecode(t, c, err)
		}
		evs, err := anthropicEvents(data)
		if err != nil {
			return
		}
		os, cs := translate.NewAnthropicToOpenAIStream(meta), translate.NewAnthropicToConverseStream(meta)
		for _, e := range evs {
			if e == nil {
				continue
			}
			chunks, _ := os.Event(e)
			for i := range chunks {
				redecode(t, &chunks[i], nil)
			}
			cevs, _ := cs.Event(e)
			for _, c := range cevs {
				if _, err := c.Payload(); err != nil {
					t.Fatalf("payload: %v", err)
				}
			}
		}
	})
}
