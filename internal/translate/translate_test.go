package translate_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
	"github.com/meridian-gateway/meridian/internal/translate"
)

var update = flag.Bool("update", false, "rewrite the golden out files")

var meta = translate.ResponseMeta{ID: "resp-1", Model: "test-model", Created: 1700000000, LatencyMs: 42, IncludeUsage: true}

// direction holds one client/backend pair's translators, each taking the
// raw in.json and returning the value to encode as out.json.
// A request case's model file, when present, holds the Bedrock model id a
// Converse request is translated for (its family decides
// additionalModelRequestFields); without it the family is the zero one.
type direction struct {
	request  func(b []byte, opts translate.Options) (any, error)
	response func([]byte) (any, error)
	stream   func([]byte) (any, error)
}

func decode[T any](b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decode input: %w", err)
	}
	return v, nil
}

// converseEvents decodes a list of {"<eventType>": payload} objects.
func converseEvents(b []byte) ([]converse.Event, error) {
	var raw []map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	var out []converse.Event
	for _, m := range raw {
		for k, v := range m {
			e, err := converse.DecodeEvent(k, v)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// encodeConverseEvents is converseEvents' inverse.
func encodeConverseEvents(evs []converse.Event) ([]map[string]json.RawMessage, error) {
	out := []map[string]json.RawMessage{}
	for _, e := range evs {
		p, err := e.Payload()
		if err != nil {
			return nil, err
		}
		out = append(out, map[string]json.RawMessage{e.Type: p})
	}
	return out, nil
}

func anthropicEvents(b []byte) ([]*anthropic.Event, error) {
	var evs []*anthropic.Event
	return evs, json.Unmarshal(b, &evs)
}

func openAIChunks(b []byte) ([]*openai.ChatCompletionChunk, error) {
	var cs []*openai.ChatCompletionChunk
	return cs, json.Unmarshal(b, &cs)
}

var directions = map[string]direction{
	"converse_openai": {
		request: func(b []byte, opts translate.Options) (any, error) {
			req, err := decode[converse.Request](b)
			if err != nil {
				return nil, err
			}
			return translate.ConverseToOpenAIRequest(req, "gpt-4o", true)
		},
		response: func(b []byte) (any, error) {
			resp, err := decode[openai.ChatCompletion](b)
			if err != nil {
				return nil, err
			}
			return translate.OpenAIToConverseResponse(resp, meta)
		},
		stream: func(b []byte) (any, error) {
			cs, err := openAIChunks(b)
			if err != nil {
				return nil, err
			}
			s := translate.NewOpenAIToConverseStream(meta)
			out := []converse.Event{}
			for _, c := range cs {
				evs, err := s.Chunk(c)
				if err != nil {
					return nil, err
				}
				out = append(out, evs...)
			}
			return append(out, s.Finish()...), nil
		},
	},
	"anthropic_openai": {
		request: func(b []byte, opts translate.Options) (any, error) {
			req, err := decode[anthropic.Request](b)
			if err != nil {
				return nil, err
			}
			return translate.AnthropicToOpenAIRequest(req, "gpt-4o")
		},
		response: func(b []byte) (any, error) {
			resp, err := decode[openai.ChatCompletion](b)
			if err != nil {
				return nil, err
			}
			return translate.OpenAIToAnthropicResponse(resp, meta)
		},
		stream: func(b []byte) (any, error) {
			cs, err := openAIChunks(b)
			if err != nil {
				return nil, err
			}
			s := translate.NewOpenAIToAnthropicStream(meta)
			out := []*anthropic.Event{}
			for _, c := range cs {
				evs, err := s.Chunk(c)
				if err != nil {
					return nil, err
				}
				out = append(out, evs...)
			}
			return append(out, s.Finish()...), nil
		},
	},
	"anthropic_converse": {
		request: func(b []byte, opts translate.Options) (any, error) {
			req, err := decode[anthropic.Request](b)
			if err != nil {
				return nil, err
			}
			return translate.AnthropicToConverseRequest(req, opts)
		},
		response: func(b []byte) (any, error) {
			resp, err := decode[converse.Response](b)
			if err != nil {
				return nil, err
			}
			return translate.ConverseToAnthropicResponse(resp, meta)
		},
		stream: func(b []byte) (any, error) {
			evs, err := converseEvents(b)
			if err != nil {
				return nil, err
			}
			s := translate.NewConverseToAnthropicStream(meta)
			out := []*anthropic.Event{}
			for _, e := range evs {
				as, err := s.Event(e)
				if err != nil {
					return nil, err
				}
				out = append(out, as...)
			}
			return out, nil
		},
	},
	"converse_anthropic": {
		request: func(b []byte, opts translate.Options) (any, error) {
			req, err := decode[converse.Request](b)
			if err != nil {
				return nil, err
			}
			return translate.ConverseToAnthropicRequest(req, translate.Options{})
		},
		response: func(b []byte) (any, error) {
			resp, err := decode[anthropic.Response](b)
			if err != nil {
				return nil, err
			}
			return translate.AnthropicToConverseResponse(resp, meta)
		},
		stream: func(b []byte) (any, error) {
			evs, err := anthropicEvents(b)
			if err != nil {
				return nil, err
			}
			s := translate.NewAnthropicToConverseStream(meta)
			out := []converse.Event{}
			for _, e := range evs {
				cs, err := s.Event(e)
				if err != nil {
					return nil, err
				}
				out = append(out, cs...)
			}
			return out, nil
		},
	},
	"openai_anthropic": {
		request: func(b []byte, opts translate.Options) (any, error) {
			req, err := decode[openai.ChatCompletionRequest](b)
			if err != nil {
				return nil, err
			}
			return translate.OpenAIToAnthropicRequest(req, translate.Options{})
		},
		response: func(b []byte) (any, error) {
			resp, err := decode[anthropic.Response](b)
			if err != nil {
				return nil, err
			}
			return translate.AnthropicToOpenAIResponse(resp, meta)
		},
		stream: func(b []byte) (any, error) {
			evs, err := anthropicEvents(b)
			if err != nil {
				return nil, err
			}
			s := translate.NewAnthropicToOpenAIStream(meta)
			out := []openai.ChatCompletionChunk{}
			for _, e := range evs {
				cs, err := s.Event(e)
				if err != nil {
					return nil, err
				}
				out = append(out, cs...)
			}
			return out, nil
		},
	},
	"openai_converse": {
		request: func(b []byte, opts translate.Options) (any, error) {
			req, err := decode[openai.ChatCompletionRequest](b)
			if err != nil {
				return nil, err
			}
			return translate.OpenAIToConverseRequest(req, opts)
		},
		response: func(b []byte) (any, error) {
			resp, err := decode[converse.Response](b)
			if err != nil {
				return nil, err
			}
			return translate.ConverseToOpenAIResponse(resp, meta)
		},
		stream: func(b []byte) (any, error) {
			evs, err := converseEvents(b)
			if err != nil {
				return nil, err
			}
			s := translate.NewConverseToOpenAIStream(meta)
			out := []openai.ChatCompletionChunk{}
			for _, e := range evs {
				cs, err := s.Event(e)
				if err != nil {
					return nil, err
				}
				out = append(out, cs...)
			}
			return out, nil
		},
	},
}

// TestGolden runs every case under testdata/<from>_<to>/<case>/: each of
// request, response and stream present as <kind>.in.json is translated and
// compared with <kind>.out.json (an error compares as {"error": message}).
func TestGolden(t *testing.T) {
	t.Parallel()
	for name, d := range directions {
		cases, _ := filepath.Glob(filepath.Join("testdata", name, "*"))
		if len(cases) == 0 {
			t.Errorf("%s: no golden cases", name)
		}
		for _, dir := range cases {
			var opts translate.Options
			if model, err := os.ReadFile(filepath.Join(dir, "model")); err == nil {
				opts.Family = translate.BedrockFamily(strings.TrimSpace(string(model)))
			}
			request := func(b []byte) (any, error) { return d.request(b, opts) }
			for kind, fn := range map[string]func([]byte) (any, error){"request": request, "response": d.response, "stream": d.stream} {
				in, err := os.ReadFile(filepath.Join(dir, kind+".in.json"))
				if errors.Is(err, os.ErrNotExist) {
					continue
				}
				t.Run(name+"/"+filepath.Base(dir)+"/"+kind, func(t *testing.T) {
					if err != nil {
						t.Fatal(err)
					}
					var got []byte
					v, err := fn(in)
					if err != nil {
						got, _ = json.Marshal(map[string]string{"error": err.Error()})
					} else if got, err = encodeOut(v); err != nil {
						t.Fatalf("encode: %v", err)
					}
					outPath := filepath.Join(dir, kind+".out.json")
					if *update {
						var pretty any
						json.Unmarshal(got, &pretty)
						b, _ := json.MarshalIndent(pretty, "", "  ")
						if err := os.WriteFile(outPath, append(b, '\n'), 0o644); err != nil {
							t.Fatal(err)
						}
						return
					}
					want, err := os.ReadFile(outPath)
					if err != nil {
						t.Fatalf("read golden (run with -update): %v", err)
					}
					if eq, err := jsonx.Equivalent(want, got); err != nil || !eq {
						t.Errorf("translate %s/%s:\n got  %s\n want %s", dir, kind, got, want)
					}
				})
			}
		}
	}
}

func encodeOut(v any) ([]byte, error) {
	if evs, ok := v.([]converse.Event); ok {
		m, err := encodeConverseEvents(evs)
		if err != nil {
			return nil, err
		}
		return json.Marshal(m)
	}
	return json.Marshal(v)
}

func TestUnsupportedErrorIs(t *testing.T) {
	t.Parallel()
	_, err := translate.OpenAIToConverseRequest(&openai.ChatCompletionRequest{Model: "m", LogitBias: map[string]float64{"1": 2}}, translate.Options{})
	var ue *translate.UnsupportedError
	if !errors.As(err, &ue) || ue.Field != "logit_bias" || !errors.Is(err, translate.ErrUnsupported) {
		t.Errorf("OpenAIToConverseRequest(logit_bias) = %v, want UnsupportedError for logit_bias", err)
	}
}

func TestDeps(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if !strings.HasPrefix(p, "github.com/meridian-gateway/meridian/internal/schema/") && p != "github.com/meridian-gateway/meridian/internal/translate" {
			t.Errorf("translate depends on %s; it may import only the standard library and the schema packages", p)
		}
	}
}
