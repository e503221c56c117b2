package inference

import (
	"bytes"
	"encoding/json"
	"testing"
)

var fieldUnlessNullCases = []struct {
	name, body, want string
}{
	{"null in every chunk", `{"id":"c","choices":[{"delta":{"content":"x"}}],"usage":null}`, ""},
	{"absent", `{"id":"c","choices":[]}`, ""},
	{"set", `{"id":"c","choices":[],"usage":{"prompt_tokens":3}}`, `{"prompt_tokens":3}`},
	{"spaces around the colon", `{"id":"c","usage" : {"prompt_tokens":3}}`, `{"prompt_tokens":3}`},
	{"a nested null, the top level set", `{"x":{"usage":null},"usage":{"a":1}}`, `{"a":1}`},
	{"a nested value, the top level null", `{"x":{"usage":{"a":1}},"usage":null}`, ""},
	{"a nested value, the top level absent", `{"x":{"usage":{"a":1}}}`, ""},
	{"the name as a string value", `{"object":"usage","usage":{"a":2}}`, `{"a":2}`},
	{"the name inside a string", `{"content":"\"usage\": {}","usage":null}`, ""},
	{"a null-like prefix", `{"usage":nullx}`, ""},
}

func TestFieldUnlessNull(t *testing.T) {
	for _, tc := range fieldUnlessNullCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := FieldUnlessNull([]byte(tc.body), "usage"); string(got) != tc.want {
				t.Errorf("FieldUnlessNull = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzFieldUnlessNull holds the search to Field on every input: for a
// valid JSON object, both agree on the member's value unless it is null.
func FuzzFieldUnlessNull(f *testing.F) {
	for _, tc := range fieldUnlessNullCases {
		f.Add([]byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := FieldUnlessNull(b, "usage")
		want := Field(b, "usage")
		if bytes.Equal(want, []byte("null")) {
			want = nil
		}
		if !jsonObject(b) {
			return // Field's answer on invalid JSON is not a contract
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("FieldUnlessNull(%q) = %q, Field = %q", b, got, want)
		}
	})
}

// jsonObject reports whether b is one valid JSON object.
func jsonObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}
