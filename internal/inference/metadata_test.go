package inference

import (
	"fmt"
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
