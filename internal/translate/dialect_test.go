package translate_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
	"github.com/meridian-gateway/meridian/internal/translate"
)

var small = map[translate.Dialect]string{
	translate.OpenAI:    `{"model":"client-model","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],"max_tokens":64,"stream":true}`,
	translate.Converse:  `{"system":[{"text":"s"}],"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":64}}`,
	translate.Anthropic: `{"model":"client-model","system":"s","messages":[{"role":"user","content":"hi"}],"max_tokens":64,"stream":true}`,
}

func TestRequestBytes(t *testing.T) {
	t.Parallel()
	dialects := []translate.Dialect{translate.OpenAI, translate.Converse, translate.Anthropic}
	for _, client := range dialects {
		for _, backend := range dialects {
			t.Run(client.String()+"_"+backend.String(), func(t *testing.T) {
				t.Parallel()
				out, err := translate.Request(client, backend, []byte(small[client]), "backend-model", true, translate.Options{})
				if client == backend {
					if !errors.Is(err, translate.ErrSameDialect) {
						t.Errorf("Request(%v, %v) = %v, want ErrSameDialect", client, backend, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Request(%v, %v): %v", client, backend, err)
				}
				want := map[translate.Dialect]string{
					translate.OpenAI:    `{"model":"backend-model","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],"max_completion_tokens":64,"stream":true,"stream_options":{"include_usage":true}}`,
					translate.Converse:  `{"system":[{"text":"s"}],"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":64}}`,
					translate.Anthropic: `{"model":"backend-model","system":"s","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":64,"stream":true}`,
				}[backend]
				if client == translate.Converse && backend == translate.Anthropic {
					want = `{"model":"backend-model","system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":64,"stream":true}`
				}
				if eq, _ := jsonx.Equivalent([]byte(want), out); !eq {
					t.Errorf("Request(%v, %v) =\n %s\nwant\n %s", client, backend, out, want)
				}
			})
		}
	}
	var de *translate.DecodeError
	if _, err := translate.Request(translate.OpenAI, translate.Converse, []byte(`{"messages":`), "m", false, translate.Options{}); !errors.As(err, &de) {
		t.Errorf("Request(malformed) = %v, want *DecodeError", err)
	}
	_, err := translate.Request(translate.OpenAI, translate.Converse, []byte(`{"model":"m","messages":[],"n":"two"}`), "m", false, translate.Options{})
	if want := "decode openai body: n: wrong type (string)"; err == nil || err.Error() != want {
		t.Errorf("Request(wrong type) = %v, want %s", err, want)
	}
	out, err := translate.Request(translate.OpenAI, translate.Anthropic, []byte(small[translate.OpenAI]), "ignored", true, translate.Options{AnthropicBedrock: true})
	if err != nil {
		t.Fatal(err)
	}
	var a anthropic.Request
	json.Unmarshal(out, &a)
	if a.Model != "" || a.Stream != nil || a.AnthropicVersion != anthropic.BedrockVersion {
		t.Errorf("Bedrock-shaped body = %s, want anthropic_version and no model or stream", out)
	}
}

// TestStreamBytes runs the golden streams through NewStream, the framing
// adapter the gateway calls, and checks it agrees with the typed translators.
func TestStreamBytes(t *testing.T) {
	t.Parallel()
	pairs := map[string][2]translate.Dialect{ // directory -> backend, client
		"openai_converse":    {translate.Converse, translate.OpenAI},
		"openai_anthropic":   {translate.Anthropic, translate.OpenAI},
		"converse_openai":    {translate.OpenAI, translate.Converse},
		"converse_anthropic": {translate.Anthropic, translate.Converse},
		"anthropic_openai":   {translate.OpenAI, translate.Anthropic},
		"anthropic_converse": {translate.Converse, translate.Anthropic},
	}
	for dir, p := range pairs {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*", "stream.in.json"))
		for _, f := range files {
			t.Run(dir+"/"+filepath.Base(filepath.Dir(f)), func(t *testing.T) {
				t.Parallel()
				in, _ := os.ReadFile(f)
				want, _ := os.ReadFile(filepath.Join(filepath.Dir(f), "stream.out.json"))
				s, err := translate.NewStream(p[0], p[1], meta)
				if err != nil {
					t.Fatal(err)
				}
				var events []translate.Event
				switch p[0] {
				case translate.Converse:
					var raw []map[string]json.RawMessage
					json.Unmarshal(in, &raw)
					for _, m := range raw {
						for k, v := range m {
							events = append(events, translate.Event{Type: k, Data: v})
						}
					}
				default:
					var raw []json.RawMessage
					json.Unmarshal(in, &raw)
					for _, v := range raw {
						var typ struct{ Type string }
						json.Unmarshal(v, &typ)
						events = append(events, translate.Event{Type: typ.Type, Data: v})
					}
				}
				var out []translate.Event
				var streamErr error
				for _, e := range events {
					evs, err := s.Next(e)
					if err != nil {
						streamErr = err
						break
					}
					out = append(out, evs...)
				}
				if streamErr == nil {
					fin, err := s.Finish()
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, fin...)
				}
				var got []byte
				switch {
				case streamErr != nil:
					got, _ = json.Marshal(map[string]string{"error": streamErr.Error()})
				case p[1] == translate.Converse:
					list := []map[string]json.RawMessage{}
					for _, e := range out {
						list = append(list, map[string]json.RawMessage{e.Type: e.Data})
					}
					got, _ = json.Marshal(list)
				default:
					list := []json.RawMessage{}
					for _, e := range out {
						list = append(list, e.Data)
						if p[1] == translate.Anthropic {
							var typ struct{ Type string }
							json.Unmarshal(e.Data, &typ)
							if typ.Type != e.Type {
								t.Errorf("event name %q, data type %q", e.Type, typ.Type)
							}
						}
					}
					got, _ = json.Marshal(list)
				}
				if eq, err := jsonx.Equivalent(want, got); err != nil || !eq {
					t.Errorf("NewStream(%v, %v) on %s:\n got  %s\n want %s", p[0], p[1], f, got, want)
				}
			})
		}
	}
}

func TestResponseBytes(t *testing.T) {
	t.Parallel()
	body := `{"output":{"message":{"role":"assistant","content":[{"text":"hi"}]}},"stopReason":"end_turn","usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2},"metrics":{"latencyMs":1}}`
	out, err := translate.Response(translate.Converse, translate.OpenAI, []byte(body), meta)
	if err != nil {
		t.Fatal(err)
	}
	var c openai.ChatCompletion
	if err := json.Unmarshal(out, &c); err != nil || c.Choices[0].Message.Content.Text != "hi" || c.Choices[0].FinishReason != "stop" {
		t.Errorf("Response(converse, openai) = %s (%v)", out, err)
	}
	out, err = translate.Response(translate.Converse, translate.Anthropic, []byte(body), meta)
	var a anthropic.Response
	if err != nil || json.Unmarshal(out, &a) != nil || a.Content[0].Text != "hi" {
		t.Errorf("Response(converse, anthropic) = %s (%v)", out, err)
	}
	if _, err := translate.Response(translate.Converse, translate.Converse, []byte(body), meta); !errors.Is(err, translate.ErrSameDialect) {
		t.Errorf("Response(same) = %v", err)
	}
	_ = converse.Response{}
}
