package jsonesc

import (
	"encoding/json"
	"testing"
)

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	tests := []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f",
		"<script>&</script>", "line\u2028para\u2029", "invalid \xff utf-8 \xc3", "é 😀 中文",
	}
	for _, s := range tests {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendEscapedAppends(t *testing.T) {
	if got := string(AppendEscaped([]byte(`{"a":"x`), `"y"`)); got != `{"a":"x\"y\"` {
		t.Errorf("AppendEscaped = %s", got)
	}
}

func TestAppendStringNoAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = AppendString(buf[:0], "a <b> & \"c\" \n \u2028 \xff") }); n != 0 {
		t.Errorf("AppendString allocates %v times, want 0", n)
	}
}

// FuzzAppendString: every string encodes exactly as encoding/json encodes it.
func FuzzAppendString(f *testing.F) {
	f.Add("hello")
	f.Add("<\u2028\xff\"\\\x00>")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); string(got) != string(want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}
