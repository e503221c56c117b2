package inference

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// scanSeeds are chat bodies the scanner takes, and bodies it must leave to
// encoding/json.
var scanSeeds = []string{
	`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"hi"}],"max_tokens":16,"stream":true,"stream_options":{"include_usage":true}}`,
	`{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"x"},{"type":"image_url","image_url":{"url":"data:,"}}]}],"temperature":0.7,"top_p":1,"n":2,"logprobs":true,"top_logprobs":3}`,
	`{"model":"m","messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"c"}]},{"role":"tool","tool_call_id":"c","content":"r"}],"tools":[{"type":"function"}],"tool_choice":"auto","response_format":{"type":"json_schema"},"reasoning_effort":"low","stop":["x"]}`,
	` { "model" : "m" , "messages" : [ ] , "max_completion_tokens" : -0 , "stream" : null , "unknown" : {"a":[1,2]} } `,
	`{"model":null,"messages":null,"max_tokens":null,"temperature":null,"stream_options":null,"response_format":null,"logprobs":null}`,
	// Left to encoding/json: another case, an escape, a repeat, a type.
	`{"Model":"m","messages":[{"role":"user","content":"hi"}]}`,
	`{"mod\u0065l":"m","messages":[]}`,
	`{"model":"a\"b","messages":[]}`,
	`{"model":"a","model":"b","messages":[]}`,
	`{"model":"m","messages":[{"role":"user","role":"system"}]}`,
	`{"model":1,"messages":[]}`,
	`{"model":"m","max_tokens":1.5}`,
	`{"model":"m","max_tokens":1e2}`,
	`{"model":"m","max_tokens":99999999999999999999}`,
	`{"model":"m","temperature":1e400}`,
	`{"model":"m","messages":[null]}`,
	`{"model":"m","messages":{}}`,
	`{"model":"m","stream":"true"}`,
	`{"model":"m","stream_options":{"include_usage":true},"stream_options":{}}`,
	`{"model":"\xff","messages":[]}`,
	`{"ſtream":true,"model":"m"}`,
	`[]`, `null`, `{`, ``, `"s"`,
}

// FuzzScanOpenAI: whenever the scanner takes a body, it reads what
// encoding/json reads; and content parts alike.
func FuzzScanOpenAI(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var got openaiPeek
		if scanOpenAI(body, &got) {
			var want openaiPeek
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatalf("scanned %q, which encoding/json refuses: %v", body, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("scanned %q as\n%+v\nencoding/json reads\n%+v", body, got, want)
			}
			for _, m := range got.Messages {
				checkParts(t, m.Content)
			}
		}
		if json.Valid(body) {
			checkParts(t, body)
		}
	})
}

func checkParts(t *testing.T, c []byte) {
	t.Helper()
	got, ok := scanParts(c, nil)
	if !ok {
		return
	}
	var want []contentPart
	if err := json.Unmarshal(c, &want); err != nil {
		t.Fatalf("scanned parts %q, which encoding/json refuses: %v", c, err)
	}
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("scanned parts %q as %+v, encoding/json reads %+v", c, got, want)
	}
}

// TestScanOpenAI: the scanner takes the bodies clients send, leaves the
// others to encoding/json, and either way peekOpenAI answers the same.
func TestScanOpenAI(t *testing.T) {
	for i, s := range scanSeeds {
		var p openaiPeek
		took := scanOpenAI([]byte(s), &p)
		if wantTook := i < 5; took != wantTook {
			t.Errorf("scanOpenAI(%s) = %v, want %v", s, took, wantTook)
		}
	}
}

// TestPeekOpenAIAllocs pins the allocations of peeking at a plain chat
// body: the request, its feature map, the messages and the numbers, but
// no decoding state.
func TestPeekOpenAIAllocs(t *testing.T) {
	body := []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hello"}]}],"max_tokens":16,"temperature":0.5,"stream":true,"stream_options":{"include_usage":true}}`)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Peek(DialectOpenAIChat, "", body, false); err != nil {
			t.Fatal(err)
		}
	})
	// Request, model string, messages, max_tokens, temperature,
	// stream_options, content parts (encoding/json took 29).
	if allocs > 7 && !raceEnabled {
		t.Errorf("Peek allocates %v times, want at most 7", allocs)
	}
}

// BenchmarkPeekOpenAIDecode compares reading a chat body with the scanner
// and with encoding/json.
func BenchmarkPeekOpenAIDecode(b *testing.B) {
	body := []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Write a haiku about the sea, please, in English."}],"max_tokens":16,"temperature":0.7,"stream":false}`)
	b.Run("scanner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p openaiPeek
			if !scanOpenAI(body, &p) {
				b.Fatal("not scanned")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := new(openaiPeek)
			if err := json.Unmarshal(body, p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// skipStringBytewise is skipString as it was, a byte at a time: the
// reference FuzzSkipString holds the vectorised one to.
func skipStringBytewise(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// FuzzSkipString: skipString ends a string where a byte-at-a-time scan
// does.
func FuzzSkipString(f *testing.F) {
	for _, s := range []string{`"a"`, `"\""`, `"\\"x"`, `"\\\"x"`, `"\`, `"abc`, `""`, `"a\\\\"`, `"\u0022"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for i := range b {
			if b[i] != '"' {
				continue
			}
			if got, want := skipString(b, i), skipStringBytewise(b, i); got != want {
				t.Fatalf("skipString(%q, %d) = %d, want %d", b, i, got, want)
			}
		}
	})
}

// TestPlainInt: integers the scanner reads itself fit the platform's int;
// longer ones go to encoding/json (false), which refuses what overflows.
func TestPlainInt(t *testing.T) {
	wide := strconv.IntSize == 64
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"-12", -12, true},
		{"999999999", 999999999, true},
		{"4294967297", 4294967297, wide}, // 2^32+1 would wrap a 32-bit int
		{"999999999999999999", 999999999999999999, wide},
		{"1000000000000000000", 0, false}, // 19 digits
		{"1.0", 0, false},
		{"1e3", 0, false},
		{"-", 0, false},
	} {
		got, ok := plainInt([]byte(tc.in))
		if ok != tc.ok || (ok && int64(got) != tc.want) {
			t.Errorf("plainInt(%s) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestMemberIndexLongKeyAllocs: an unknown key, however long, is compared
// to the known names without a copy.
func TestMemberIndexLongKeyAllocs(t *testing.T) {
	k := []byte(strings.Repeat("x", 40))
	names := []string{"model", "messages", "stream", "max_tokens"}
	if got := memberIndex(k, names); got != unknownMember {
		t.Fatalf("memberIndex = %d, want unknownMember", got)
	}
	if n := testing.AllocsPerRun(100, func() { memberIndex(k, names) }); n != 0 {
		t.Errorf("%v allocations per unknown 40-byte key, want 0", n)
	}
}
