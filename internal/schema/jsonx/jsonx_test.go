package jsonx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

type inner struct {
	A     string      `json:"a"`
	Extra jsonx.Extra `json:"-"`
}

func (v *inner) UnmarshalJSON(b []byte) error {
	type plain inner
	return jsonx.UnmarshalObject(b, (*plain)(v), &v.Extra)
}

func (v inner) MarshalJSON() ([]byte, error) {
	type plain inner
	return jsonx.MarshalObject(plain(v), v.Extra)
}

type outer struct {
	Name  string      `json:"name"`
	In    *inner      `json:"in,omitempty"`
	List  []inner     `json:"list,omitempty"`
	Extra jsonx.Extra `json:"-"`
}

func (v *outer) UnmarshalJSON(b []byte) error {
	type plain outer
	return jsonx.UnmarshalObject(b, (*plain)(v), &v.Extra)
}

func (v outer) MarshalJSON() ([]byte, error) {
	type plain outer
	return jsonx.MarshalObject(plain(v), v.Extra)
}

func TestRoundTripKeepsUnknownMembers(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in string }{
		{"top", `{"name":"n","zz":[1,{"q":null}],"aa":"x"}`},
		{"nested", `{"name":"n","in":{"a":"b","u":{"deep":[true]}}}`},
		{"list", `{"name":"n","list":[{"a":"1","k":1.50e3},{"a":"2"}]}`},
		{"escaped key", `{"name":"n","\u00e9t\u00e9":"summer"}`},
		{"empty", `{"name":""}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v outer
			if err := json.Unmarshal([]byte(tc.in), &v); err != nil {
				t.Fatalf("Unmarshal(%s): %v", tc.in, err)
			}
			out, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			eq, err := jsonx.Equivalent([]byte(tc.in), out)
			if err != nil || !eq {
				t.Errorf("round trip of %s = %s (err %v), want equivalent", tc.in, out, err)
			}
		})
	}
}

func TestUnknownValueBytesKept(t *testing.T) {
	t.Parallel()
	var v outer
	if err := json.Unmarshal([]byte(`{"name":"n","k":1.50e3,"z":null}`), &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	if want := `{"name":"n","k":1.50e3,"z":null}`; string(out) != want {
		t.Errorf("Marshal = %s, want %s", out, want)
	}
}

func TestMembersRejectsMalformed(t *testing.T) {
	t.Parallel()
	for _, in := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1}x`, `{"a":[1,2}`, strings.Repeat("[", 600)} {
		err := jsonx.Members([]byte(in), func(k, v []byte) error { return nil })
		if err == nil {
			t.Errorf("Members(%q) = nil, want error", in)
		}
	}
	var stop = errors.New("stop")
	if err := jsonx.Members([]byte(`{"a":1}`), func(k, v []byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("Members with failing callback = %v, want %v", err, stop)
	}
}

func TestScalars(t *testing.T) {
	t.Parallel()
	if n, ok := jsonx.Int([]byte("9223372036854775807")); !ok || n != 1<<63-1 {
		t.Errorf("Int(max) = %d, %v", n, ok)
	}
	for _, in := range []string{"9223372036854775808", "1.0", "1e3", "-", "", "\"1\""} {
		if _, ok := jsonx.Int([]byte(in)); ok {
			t.Errorf("Int(%q) ok, want not ok", in)
		}
	}
	if !jsonx.KeyIs([]byte(`"\u006dodel"`), "model") {
		t.Error(`KeyIs("\u006dodel", "model") = false`)
	}
	if s, ok := jsonx.String([]byte(`"a\"b"`)); !ok || s != `a"b` {
		t.Errorf(`String("a\"b") = %q, %v`, s, ok)
	}
}

func FuzzMembers(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"c"}],"d":null}`))
	f.Add([]byte(`{"model":"x","stream":true}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := jsonx.Walk(data, func(k, v []byte) error { return nil })
		if json.Valid(data) && err != nil && data[skip(data)] == '{' && !strings.Contains(string(data), strings.Repeat("[", 500)) {
			t.Errorf("Walk(%q) = %v on valid JSON", data, err)
		}
	})
}

func skip(b []byte) int {
	i := 0
	for i < len(b)-1 && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

func TestDeps(t *testing.T) {
	t.Parallel()
	checkDeps(t, "github.com/meridian-gateway/meridian/internal/schema/jsonx")
}

func checkDeps(t *testing.T, self string) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	out, err := exec.Command(goBin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != self {
			t.Errorf("%s depends on %s; it may import only the standard library", self, p)
		}
	}
}

// TestAmbiguous: a member named twice in any spelling, or once in another
// case or with an escape, is reported as encoding/json would match it
// (case folded, the Kelvin sign included).
func TestAmbiguous(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body, want string
		twice      bool
	}{
		{`{"max_tokens":1,"messages":[]}`, "", false},
		{`{"max_tokens":1,"max_tokens":2}`, "max_tokens", true},
		{`{"max_tokens":1,"MAX_TOKENS":2}`, "max_tokens", true},
		{`{"max_\u0074okens":1}`, "max_tokens", false},
		{`{"Max_Tokens":1}`, "max_tokens", false},
		{"{\"max_to\u212aens\":1}", "max_tokens", false},
		{`{"x":{"max_tokens":1,"max_tokens":2}}`, "", false},
		{`{"stream":true,"max_tokens":1,"stream":false}`, "stream", true},
		{`[1]`, "", false},
	}
	for _, tc := range tests {
		name, twice := jsonx.Ambiguous([]byte(tc.body), "stream", "max_tokens")
		if name != tc.want || twice != tc.twice {
			t.Errorf("Ambiguous(%s) = %q, %v; want %q, %v", tc.body, name, twice, tc.want, tc.twice)
		}
	}
}

// TestAmbiguousManyNames: every name is checked however many are given
// (the check once stopped at 16 and said nothing past them), and up to 16
// names the check allocates nothing for a body without escaped keys.
func TestAmbiguousManyNames(t *testing.T) {
	names := make([]string, 40)
	for i := range names {
		names[i] = fmt.Sprintf("m%02d", i)
	}
	tests := []struct {
		body, want string
		twice      bool
	}{
		{`{"m00":1,"m16":2,"m39":3}`, "", false},
		{`{"m16":1,"M16":2}`, "m16", true},
		{`{"m17":1,"m17":2}`, "m17", true},
		{`{"m39":1,"m39":2}`, "m39", true},
		{`{"M39":1}`, "m39", false},
		{`{"m\u0033\u0039":1}`, "m39", false},
		{`{"m39":1,"m39":2,"m20":1,"m20":2}`, "m20", true}, // names' order, not the body's
		{`{"m15":1,"m15":2,"m30":1,"m30":2}`, "m15", true},
	}
	for _, tc := range tests {
		name, twice := jsonx.Ambiguous([]byte(tc.body), names...)
		if name != tc.want || twice != tc.twice {
			t.Errorf("Ambiguous(%s) = %q, %v; want %q, %v", tc.body, name, twice, tc.want, tc.twice)
		}
		if err := jsonx.CheckAmbiguous([]byte(tc.body), names...); (err != nil) != (tc.want != "") {
			t.Errorf("CheckAmbiguous(%s) = %v", tc.body, err)
		}
	}
	body := []byte(`{"m00":1,"m15":2,"x":{"m15":3}}`)
	if n := testing.AllocsPerRun(100, func() { jsonx.Ambiguous(body, names[:16]...) }); n != 0 {
		t.Errorf("Ambiguous with 16 names: %v allocations; want 0", n)
	}
}

// FuzzAmbiguous: for any valid JSON object, Ambiguous agrees with the
// member names encoding/json's tokenizer reads (escapes resolved), counted
// as encoding/json matches them to a field (case folded); the body is the
// caller's, so the scanner under it is reachable from outside.
func FuzzAmbiguous(f *testing.F) {
	names := []string{"max_tokens", "stream", "model", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p"}
	for _, s := range []string{
		`{"max_tokens":1,"MAX_TOKENS":2}`,
		`{"p":1,"P":2}`,
		`{"o":1,"\u006f":2,"x":[{"o":1}]}`,
		"{\"\u212a\":1}",
		`{"stream":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		name, twice := jsonx.Ambiguous(data, names...)
		if !json.Valid(data) || data[skip(data)] != '{' || strings.Contains(string(data), strings.Repeat("[", 500)) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		if _, err := dec.Token(); err != nil {
			t.Fatal(err)
		}
		seen := make([]int, len(names))
		odd := make([]bool, len(names))
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			key := tok.(string)
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			for i, n := range names {
				if strings.EqualFold(key, n) {
					seen[i]++
					// An escape the decoder resolved is odd too; the
					// tokenizer does not say, so only the case is compared
					// here and escapes are left to the table test.
					odd[i] = odd[i] || key != n
				}
			}
		}
		wantName, wantTwice := "", false
		for i, n := range names {
			if seen[i] > 1 {
				wantName, wantTwice = n, true
				break
			}
			if odd[i] {
				wantName = n
				break
			}
		}
		if bytes.Contains(data, []byte(`\`)) {
			// An escaped key may make an earlier name odd: only say that
			// what the decoder sees twice or in another case is reported.
			if wantName != "" && name == "" {
				t.Fatalf("Ambiguous(%s) = none; want %q, %v at least", data, wantName, wantTwice)
			}
			return
		}
		if name != wantName || twice != wantTwice {
			t.Fatalf("Ambiguous(%s) = %q, %v; want %q, %v", data, name, twice, wantName, wantTwice)
		}
	})
}

// BenchmarkAmbiguous13: the gateway's check of an Anthropic Messages body
// (internal/gateway/ambiguous.go's 13 names) over a small body.
func BenchmarkAmbiguous13(b *testing.B) {
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":1024,"system":"Be brief.","messages":[{"role":"user","content":"Hello there, how are you today?"},{"role":"assistant","content":"Fine."},{"role":"user","content":"Good."}],"temperature":0.5,"top_p":0.9,"thinking":{"type":"enabled","budget_tokens":512}}`)
	names := []string{"anthropic_version", "anthropic_beta", "max_tokens", "messages", "system", "temperature", "top_p", "tools", "tool_choice", "thinking", "service_tier", "model", "stream"}
	b.ReportAllocs()
	for b.Loop() {
		jsonx.Ambiguous(body, names...)
	}
}
