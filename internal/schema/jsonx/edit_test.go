package jsonx_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

func TestSetMember(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, key, raw, want string }{
		{"replace", `{"model":"a", "x" : [1, 2]}`, "model", `"b"`, `{"model":"b", "x" : [1, 2]}`},
		{"replace escaped", `{"\u006dodel":"a","y":1}`, "model", `"b"`, `{"model":"b","y":1}`},
		{"replace duplicates", `{"model":"a","model":"c"}`, "model", `"b"`, `{"model":"b","model":"b"}`},
		{"append", `{"x":1 }`, "model", `"b"`, `{"x":1 ,"model":"b"}`},
		{"append empty", `{ }`, "model", `"b"`, `{ "model":"b"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := jsonx.SetMember([]byte(tc.in), tc.key, []byte(tc.raw))
			if err != nil || string(got) != tc.want {
				t.Errorf("SetMember(%s, %s, %s) = %s, %v; want %s", tc.in, tc.key, tc.raw, got, err, tc.want)
			}
		})
	}
}

func TestDeleteMember(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, key, want string }{
		{"first", `{"model":"a", "x":1}`, "model", `{ "x":1}`},
		{"last", `{"x":1, "model":"a"}`, "model", `{"x":1}`},
		{"only", `{"model":"a"}`, "model", `{}`},
		{"middle and duplicate", `{"model":1,"x":1,"model":2,"y":2}`, "model", `{"x":1,"y":2}`},
		{"absent", `{"x":1}`, "model", `{"x":1}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := jsonx.DeleteMember([]byte(tc.in), tc.key)
			if err != nil || string(got) != tc.want {
				t.Errorf("DeleteMember(%s, %s) = %s, %v; want %s", tc.in, tc.key, got, err, tc.want)
			}
		})
	}
}

func FuzzEdit(f *testing.F) {
	f.Add([]byte(`{"model":"a","stream":true,"x":{"model":1}}`), "model")
	f.Add([]byte(`{ }`), "stream")
	f.Fuzz(func(t *testing.T, body []byte, key string) {
		if !json.Valid(body) || !utf8.ValidString(key) {
			return
		}
		if set, err := jsonx.SetMember(body, key, []byte(`"v"`)); err == nil {
			var m map[string]json.RawMessage
			if json.Unmarshal(set, &m) != nil {
				t.Fatalf("SetMember(%q, %q) = %q: not JSON", body, key, set)
			}
			if string(m[key]) != `"v"` {
				t.Fatalf("SetMember(%q, %q) = %q: member is %s", body, key, set, m[key])
			}
		}
		if del, err := jsonx.DeleteMember(body, key); err == nil {
			var m map[string]json.RawMessage
			if json.Unmarshal(del, &m) != nil {
				t.Fatalf("DeleteMember(%q, %q) = %q: not JSON", body, key, del)
			}
			if _, ok := m[key]; ok {
				t.Fatalf("DeleteMember(%q, %q) = %q: member kept", body, key, del)
			}
		}
	})
}
