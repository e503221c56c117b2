package inference

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestMembers(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		keys []string
		ok   bool
	}{
		{"completion", `{"id":"x","choices":[{"message":{"content":"a \"}\" b"}}],"usage":{"prompt_tokens":3}}`, []string{"id", "choices", "usage"}, true},
		{"spaces", " {\n \"a\" : 1 , \"b\":[ ]\n} ", []string{"a", "b"}, true},
		{"empty", `{}`, nil, true},
		{"escaped key kept as sent", `{"a\"b":null}`, []string{`a\"b`}, true},
		{"not an object", `[1]`, nil, false},
		{"truncated", `{"id":"x","choices":[`, []string{"id"}, false},
		{"trailing garbage", `{"a":1}x`, []string{"a"}, false},
		{"missing colon", `{"a" 1}`, nil, false},
		{"trailing comma", `{"a":1,}`, []string{"a"}, false},
		{"two objects", `{"a":1}{"b":2}`, []string{"a"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var keys []string
			ok := Members([]byte(tc.in), func(k, v []byte) { keys = append(keys, string(k)) })
			if ok != tc.ok || len(keys) != len(tc.keys) {
				t.Fatalf("Members(%s) = %v with keys %q; want %v with %q", tc.in, ok, keys, tc.ok, tc.keys)
			}
			for i := range keys {
				if keys[i] != tc.keys[i] {
					t.Errorf("key %d = %q, want %q", i, keys[i], tc.keys[i])
				}
			}
		})
	}
}

// FuzzMembers: Members never panics, accepts every valid JSON object with
// its members' raw values, and never calls fn with a span outside b.
func FuzzMembers(f *testing.F) {
	for _, s := range []string{`{"id":"x","usage":{"prompt_tokens":1}}`, `{}`, `{"a":[1,{"b":"}"}]}`, `[`, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var got [][]byte
		ok := Members(b, func(k, v []byte) { got = append(got, v) })
		if !json.Valid(b) || !bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("{")) {
			return
		}
		if !ok {
			t.Fatalf("Members refused the valid object %q", b)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		for _, v := range got {
			if !json.Valid(v) {
				t.Errorf("member value %q is not the raw JSON of a value", v)
			}
		}
		if len(got) < len(m) {
			t.Errorf("%d members seen, the object has %d distinct keys", len(got), len(m))
		}
	})
}
