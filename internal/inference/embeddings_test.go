package inference

import (
	"strings"
	"testing"
)

// TestPeekEmbeddings: an embeddings body is read for the model, the
// embeddings feature and the input-token estimate; a malformed one is a
// 400 naming the field at fault.
func TestPeekEmbeddings(t *testing.T) {
	tests := []struct {
		name, body string
		param      string // "" when accepted
		tokens     int
	}{
		{"string", `{"model":"m","input":"abcdefgh"}`, "", 2},
		{"strings", `{"model":"m","input":["abcd","abcdefgh"]}`, "", 3},
		{"tokens", `{"model":"m","input":[1,2,3]}`, "", 3},
		{"token arrays", `{"model":"m","input":[[1,2],[3]]}`, "", 3},
		{"dimensions and base64", `{"model":"m","input":"a","dimensions":8,"encoding_format":"base64"}`, "", 1},
		{"no model", `{"input":"a"}`, "model", 0},
		{"no input", `{"model":"m"}`, "input", 0},
		{"empty string", `{"model":"m","input":""}`, "input", 0},
		{"empty array", `{"model":"m","input":[]}`, "input", 0},
		{"empty item", `{"model":"m","input":["a",""]}`, "input[1]", 0},
		{"object input", `{"model":"m","input":{"a":1}}`, "input", 0},
		{"mixed", `{"model":"m","input":["a",1]}`, "input", 0},
		{"zero dimensions", `{"model":"m","input":"a","dimensions":0}`, "dimensions", 0},
		{"bad encoding", `{"model":"m","input":"a","encoding_format":"int8"}`, "encoding_format", 0},
		{"wrong type", `{"model":"m","input":"a","dimensions":"8"}`, "dimensions", 0},
		{"too many", `{"model":"m","input":[` + strings.Repeat(`"a",`, MaxEmbeddingInputs) + `"a"]}`, "input", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := Peek(DialectOpenAIEmbeddings, "", []byte(tc.body), false)
			if req == nil {
				t.Fatal("nil request")
			}
			if tc.param != "" {
				if e := AsError(err); err == nil || e.Kind != KindInvalidRequest || e.Param != tc.param {
					t.Fatalf("err = %v (param %q), want a 400 naming %s", err, AsError(err).Param, tc.param)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Model != "m" || !req.Features.Has(FeatureEmbeddings) || req.InputTokens != tc.tokens || req.Stream || req.MaxTokens != 1 {
				t.Errorf("request = model %q features %v tokens %d", req.Model, req.Features, req.InputTokens)
			}
		})
	}
}

func FuzzPeekEmbeddings(f *testing.F) {
	for _, s := range []string{`{"model":"m","input":"a"}`, `{"model":"m","input":[[1],[2,3]]}`, `{"model":"m","input":["a"],"dimensions":3}`, `[]`, `{"input":[[]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Peek(DialectOpenAIEmbeddings, "", body, false)
		if req == nil {
			t.Fatal("nil request")
		}
		if err != nil && AsError(err).Kind != KindInvalidRequest {
			t.Fatalf("error of kind %v: %v", AsError(err).Kind, err)
		}
		if err == nil && (req.InputTokens <= 0 || req.Model == "") {
			t.Fatalf("accepted with tokens %d model %q", req.InputTokens, req.Model)
		}
	})
}
