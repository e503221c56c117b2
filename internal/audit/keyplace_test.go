package audit

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
)

// TestWarnsOfKeyInsideDir: a writer whose signing key lies inside
// audit.dir (the default) says at open that whoever can write the log can
// likely sign a forged one; a key_file outside the directory draws no
// such warning.
func TestWarnsOfKeyInsideDir(t *testing.T) {
	outside := t.TempDir()
	priv, _, err := GenerateKey(outside)
	if err != nil {
		t.Fatal(err)
	}
	inside := t.TempDir()
	if _, _, err := GenerateKey(filepath.Join(inside, "keys")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		keyFile func(dir string) string
		warn    bool
	}{
		{"default key in dir", func(string) string { return "" }, true},
		{"key_file inside dir", func(string) string { return filepath.Join(inside, "keys", DefaultKeyName) }, true},
		{"key_file outside dir", func(string) string { return priv }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.name == "key_file inside dir" {
				dir = inside
			}
			var buf bytes.Buffer
			w, err := Open(Config{Dir: dir, KeyFile: tc.keyFile(dir)}, testRegion, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(buf.String(), "signing key lies inside audit.dir"); got != tc.warn {
				t.Errorf("warned = %v, want %v; log:\n%s", got, tc.warn, buf.String())
			}
		})
	}
}
