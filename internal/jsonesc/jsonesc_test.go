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

// TestPlain8: the eight-byte skip sees exactly the bytes the byte loop
// escapes or decodes, at every position of a word.
func TestPlain8(t *testing.T) {
	special := []byte{0x00, 0x1f, '"', '\\', '<', '>', '&', 0x80, 0xff, 0xc3}
	for b := range 256 {
		for pos := range 8 {
			w := []byte("abcdefgh")
			w[pos] = byte(b)
			want := b >= 0x20 && b < 0x80 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
			if got := plain8(load8(string(w), 0)); got != want {
				t.Errorf("plain8 with %#x at %d = %v, want %v", b, pos, got, want)
			}
		}
	}
	for _, a := range special {
		for _, b := range special {
			w := string([]byte{a, 'x', 'x', 'x', 'x', 'x', 'x', b})
			if plain8(load8(w, 0)) {
				t.Errorf("plain8(%q) = true", w)
			}
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	s := "The user asked for a summary of the quarterly report; the model answered in plain text, as most do."
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = AppendString(buf[:0], s)
	}
}
