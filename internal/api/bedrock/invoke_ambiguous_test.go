package bedrock

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestCheckInvokeAmbiguous: another family's InvokeModel body that names
// a member Meridian reads (where each family bounds its output, and
// anthropic_version) twice in any spelling, or once with an escape or in
// another case, is refused with a ValidationException naming it; a body
// naming each once, exactly, passes, whatever else it holds.
func TestCheckInvokeAmbiguous(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string // want: the message, "" when it passes
	}{
		{"llama", `{"prompt":"hi","max_gen_len":100}`, ""},
		{"titan", `{"inputText":"hi","textGenerationConfig":{"maxTokenCount":3,"temperature":0}}`, ""},
		{"nova", `{"messages":[],"inferenceConfig":{"max_new_tokens":3}}`, ""},
		{"imported", `{"inputs":"hi","parameters":{"max_new_tokens":3}}`, ""},
		{"nested elsewhere", `{"prompt":"hi","max_gen_len":1,"x":{"max_gen_len":2,"max_gen_len":3}}`, ""},
		{"llama twice", `{"prompt":"hi","max_gen_len":10,"max_gen_len":100000}`, "max_gen_len is named more than once; send it once"},
		{"llama in another case", `{"max_gen_len":100000,"MAX_GEN_LEN":10}`, "max_gen_len is named more than once; send it once"},
		{"llama escaped", `{"max\u005fgen_len":100000}`, `max_gen_len is named with an escape or in another case; send it as "max_gen_len"`},
		{"mistral twice", `{"prompt":"hi","max_tokens":1,"max_tokens":2}`, "max_tokens is named more than once; send it once"},
		{"jurassic twice", `{"prompt":"hi","maxTokens":1,"maxtokens":2}`, "maxTokens is named more than once; send it once"},
		{"titan config twice", `{"textGenerationConfig":{"maxTokenCount":1},"textGenerationConfig":{"maxTokenCount":2}}`, "textGenerationConfig is named more than once; send it once"},
		{"titan bound twice", `{"textGenerationConfig":{"maxTokenCount":1,"maxTokenCount":2}}`, "textGenerationConfig.maxTokenCount is named more than once; send it once"},
		{"titan bound in another case", `{"textGenerationConfig":{"MaxTokenCount":2}}`, `textGenerationConfig.maxTokenCount is named with an escape or in another case; send it as "textGenerationConfig.maxTokenCount"`},
		{"nova bound twice", `{"inferenceConfig":{"max_new_tokens":1,"max_new_tokens":2}}`, "inferenceConfig.max_new_tokens is named more than once; send it once"},
		{"nova camel twice", `{"inferenceConfig":{"maxTokens":1,"MAXTOKENS":2}}`, "inferenceConfig.maxTokens is named more than once; send it once"},
		{"imported bound twice", `{"parameters":{"max_new_tokens":1,"max_new_tokens":2}}`, "parameters.max_new_tokens is named more than once; send it once"},
		{"anthropic_version in another case", `{"Anthropic_Version":"bedrock-2023-05-31","max_tokens":1}`, `anthropic_version is named with an escape or in another case; send it as "anthropic_version"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := checkInvokeAmbiguous([]byte(tc.body))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e, ok := err.(*inference.Error)
			if !ok || e.Kind != inference.KindInvalidRequest || e.Message != tc.want {
				t.Fatalf("got %#v; want a ValidationException %q", err, tc.want)
			}
		})
	}
}

// FuzzCheckInvokeAmbiguous: the body is the caller's; the check never
// panics, and a body it passes names no bound the peek reads differently
// from a full decode's last copy.
func FuzzCheckInvokeAmbiguous(f *testing.F) {
	for _, s := range []string{
		`{"max_gen_len":100000,"MAX_GEN_LEN":10}`,
		`{"textGenerationConfig":{"maxTokenCount":1,"maxTokenCount":2}}`,
		`{"inferenceConfig":{"max_new_tokens":3}}`,
		`{"prompt":"x","max_gen_len":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if checkInvokeAmbiguous(body) != nil {
			return
		}
		req, err := inference.PeekInvoke("meta.llama3-8b-instruct-v1:0", body, false)
		if err != nil || req.Dialect != inference.DialectInvoke || req.MaxTokensParam == "" {
			return
		}
		// What a decoder that takes the last copy reads at the same path.
		got := lastCopy(body, req.MaxTokensParam)
		if got == nil || string(got) != itoa(req.MaxTokens) {
			t.Fatalf("%s: peek reserves %s=%d, a decoder reads %s", body, req.MaxTokensParam, req.MaxTokens, got)
		}
	})
}

// lastCopy is the raw value at the dotted path of body as encoding/json
// reads an object into a map (the last copy of each exact name), or nil.
func lastCopy(body []byte, path string) []byte {
	v := body
	for _, k := range strings.Split(path, ".") {
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return nil
		}
		if v = m[k]; v == nil {
			return nil
		}
	}
	return v
}
