package inference

import (
	"encoding/json"
	"strings"
	"testing"
)

// validCases are texts validJSON must judge as json.Valid does.
var validCases = []string{
	``, ` `, `{}`, `[]`, ` { } `, `[ ]`, `{"a":1}`, `{"a":1,}`, `{,}`, `[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{a:1}`,
	`{"a" : [1, 2.5, -0, 0.0e+1, 1E-2, true, false, null, "x"]}`, `01`, `-`, `-01`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x1`,
	`"\u00e9\n\t\"\\\/\b\f\r"`, `"\u00g0"`, `"\u00"`, `"\x"`, "\"a\x01\"", "\"\xff\xfe\"", `"abc`, `"a\`,
	`tru`, `true false`, `nul`, `nullx`, `[true}`, `{"a":1]`, `{"a":{"b":[{}]}}`, "\t\n\r 1 \r\n\t", "1\v",
	`{"a":1}}`, `[[]]]`, `{"":""}`, `[{"a":[1,{"b":null}]},"c"]`,
	`{"model":"eu.demo.chat-small","stream":false,"messages":[{"role":"system","content":"You are a benchmark."},{"role":"user","content":"Where does my data go when I call this gateway?"}],"max_tokens":64}`,
	strings.Repeat("[", validDepth) + strings.Repeat("]", validDepth),
	strings.Repeat("[", validDepth+1) + strings.Repeat("]", validDepth+1),
	strings.Repeat("[", validDepth+1) + strings.Repeat("]", validDepth),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
}

// TestValidJSON: validJSON answers as json.Valid on texts at the edges of
// the grammar and of its own depth.
func TestValidJSON(t *testing.T) {
	for _, c := range validCases {
		if got, want := validJSON([]byte(c)), json.Valid([]byte(c)); got != want {
			t.Errorf("validJSON(%.80q) = %v, json.Valid %v", c, got, want)
		}
	}
}

// FuzzValidJSON: validJSON answers as json.Valid on any input.
func FuzzValidJSON(f *testing.F) {
	for _, c := range validCases {
		if len(c) < 1000 {
			f.Add([]byte(c))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := validJSON(b), json.Valid(b); got != want {
			t.Fatalf("validJSON(%q) = %v, json.Valid %v", b, got, want)
		}
	})
}

// BenchmarkValidJSON compares validJSON with json.Valid on a chat body as
// the bench sends it.
func BenchmarkValidJSON(b *testing.B) {
	body := []byte(validCases[len(validCases)-6])
	b.Run("validJSON", func(b *testing.B) {
		for b.Loop() {
			validJSON(body)
		}
	})
	b.Run("json.Valid", func(b *testing.B) {
		for b.Loop() {
			json.Valid(body)
		}
	})
}
