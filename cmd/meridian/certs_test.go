package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/pki"
)

// TestCertsInitMaxPathLen: the CA's path length is 0 unless
// --max-path-len asks for intermediates; values outside 0..8 are a usage
// error.
func TestCertsInitMaxPathLen(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    int
		wantErr string
	}{
		{"default", nil, 0, ""},
		{"one intermediate", []string{"--max-path-len", "1"}, 1, ""},
		{"negative", []string{"--max-path-len", "-1"}, 0, "outside 0..8"},
		{"too long", []string{"--max-path-len", "9"}, 0, "outside 0..8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ca")
			_, stderr, err := runCLI(t, append([]string{"certs", "init", "--dir", dir}, tc.args...)...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("certs init: %v\n%s", err, stderr)
			}
			ca, err := pki.LoadCA(dir)
			if err != nil {
				t.Fatal(err)
			}
			if ca.Cert.MaxPathLen != tc.want || (tc.want == 0) != ca.Cert.MaxPathLenZero {
				t.Errorf("MaxPathLen = %d (zero %v), want %d", ca.Cert.MaxPathLen, ca.Cert.MaxPathLenZero, tc.want)
			}
		})
	}
}
