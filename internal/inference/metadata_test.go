package inference

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
)

func TestValidateMetadata(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := range 17 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	sixteen := map[string]string{}
	for i := range 16 {
		sixteen[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name   string
		in     map[string]string
		errHas string // "" for valid
	}{
		{"nil", nil, ""},
		{"bedrock character set", map[string]string{"team:claims/eu_1": "a b\tc@d$e#f=g/h+i,j-k.l"}, ""},
		{"empty value", map[string]string{"k": ""}, ""},
		{"sixteen pairs", sixteen, ""},
		{"seventeen pairs", many, "at most 16"},
		{"empty key", map[string]string{"": "v"}, "empty key"},
		{"key too long", map[string]string{strings.Repeat("k", 257): "v"}, "longer than 256"},
		{"key of 256", map[string]string{strings.Repeat("k", 256): "v"}, ""},
		{"value too long", map[string]string{"k": strings.Repeat("v", 257)}, "longer than 256"},
		{"quote in key", map[string]string{`a"b`: "v"}, "character outside"},
		{"unicode in value", map[string]string{"k": "é"}, "character outside"},
		{"semicolon", map[string]string{"k": "a;b"}, "character outside"},
	}
	for _, tc := range tests {
		err := ValidateMetadata(tc.in)
		if tc.errHas == "" {
			if err != nil {
				t.Errorf("%s: %v, want valid", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.errHas) {
			t.Errorf("%s: %v, want error containing %q", tc.name, err, tc.errHas)
		}
		if err != nil && len(err.Error()) > 512 {
			t.Errorf("%s: error echoes too much input: %d bytes", tc.name, len(err.Error()))
		}
	}
}

func FuzzValidateMetadata(f *testing.F) {
	f.Add("team", "claims")
	f.Add("", "")
	f.Add("k\x00", "é")
	f.Fuzz(func(t *testing.T, k, v string) {
		err := ValidateMetadata(map[string]string{k: v})
		if err != nil && len(err.Error()) > 512 {
			t.Fatalf("error of %d bytes", len(err.Error()))
		}
	})
}

// TestPeekOpenAIMetadata: an OpenAI request's metadata is read for the
// audit trail, held to OpenAI's own limits, and refused by name past them.
func TestPeekOpenAIMetadata(t *testing.T) {
	t.Parallel()
	body := func(md string) []byte {
		return []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"hi"}],"metadata":` + md + `}`)
	}
	seventeen := make([]string, 17)
	for i := range seventeen {
		seventeen[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	tests := []struct {
		name   string
		md     string
		want   map[string]string
		errHas string // "" for accepted
	}{
		{"null", `null`, nil, ""},
		{"empty", `{}`, nil, ""},
		{"pairs", `{"team":"claims","note":"héllo; world!"}`, map[string]string{"team": "claims", "note": "héllo; world!"}, ""},
		{"key of 64", `{"` + strings.Repeat("k", 64) + `":"v"}`, map[string]string{strings.Repeat("k", 64): "v"}, ""},
		{"value of 512", `{"k":"` + strings.Repeat("é", 512) + `"}`, map[string]string{"k": strings.Repeat("é", 512)}, ""},
		{"key too long", `{"` + strings.Repeat("k", 65) + `":"v"}`, nil, "longer than 64"},
		{"value too long", `{"k":"` + strings.Repeat("v", 513) + `"}`, nil, "longer than 512"},
		{"seventeen pairs", `{` + strings.Join(seventeen, ",") + `}`, nil, "at most 16"},
		{"not a string", `{"k":1}`, nil, "metadata"},
		{"not an object", `"team"`, nil, "metadata"},
	}
	for _, tc := range tests {
		got, perr := Peek(DialectOpenAIChat, "", body(tc.md), false)
		if tc.errHas != "" {
			var e *Error
			if perr == nil || !errors.As(perr, &e) || e.Kind != KindInvalidRequest || !strings.HasPrefix(e.Param, "metadata") || !strings.Contains(e.Message, tc.errHas) {
				t.Errorf("%s: %v, want a 400 naming metadata with %q", tc.name, perr, tc.errHas)
			}
			continue
		}
		if perr != nil {
			t.Errorf("%s: %v", tc.name, perr)
			continue
		}
		if !maps.Equal(tc.want, got.Metadata) {
			t.Errorf("%s: metadata %q, want %q", tc.name, got.Metadata, tc.want)
		}
	}
}
