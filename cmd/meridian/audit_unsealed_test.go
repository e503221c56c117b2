package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/audit"
)

// chainTail matches the end of an event line: its two hashes.
var chainTail = regexp.MustCompile(`"prevHash":"[0-9a-f]{64}","hash":"[0-9a-f]{64}"\}$`)

// rewriteAndRechain replaces old by new in the event at index at (0-based,
// in the one log file of dir) and recomputes the hash chain from there on,
// as an attacker who can write the log would.
func rewriteAndRechain(t *testing.T, dir string, at int, old, new string) {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(dir, "audit-*.jsonl"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("log files in %s: %v %v, want one", dir, logs, err)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	prev := ""
	for i, l := range lines {
		if i < at {
			m := chainTail.FindString(l)
			prev = m[len(m)-66 : len(m)-2]
			continue
		}
		if i == at {
			if !strings.Contains(l, old) {
				t.Fatalf("event %d lacks %q: %s", i, old, l)
			}
			l = strings.Replace(l, old, new, 1)
		}
		canon := chainTail.ReplaceAllString(l, `"prevHash":"`+prev+`","hash":""}`)
		sum := sha256.Sum256([]byte(canon))
		prev = hex.EncodeToString(sum[:])
		lines[i] = strings.TrimSuffix(canon, `""}`) + `"` + prev + `"}`
	}
	if err := os.WriteFile(logs[0], []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestAuditVerifyUnsealedTail: events after the newest digest are not
// proven. With the newest digest deleted and an event behind it rewritten
// and re-chained (a forwarded request's inference region moved into the
// EU), verify says UNVERIFIED and exits 1 unless --allow-unsealed accepts
// the unsealed tail; the intact trail passes either way.
func TestAuditVerifyUnsealedTail(t *testing.T) {
	root := t.TempDir()
	w, err := audit.Open(audit.Config{Dir: root}, "eu-west-1", audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i, inf := range []string{"eu-west-1", "eu-west-1", "eu-west-1", "us-east-1", "us-east-1"} {
		if i == 3 {
			if err := w.Digest(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		ev := &audit.Event{EventID: "req-" + string(rune('a'+i)), EventName: "ChatCompletions", SourceRegion: "eu-west-1", InferenceRegion: inf, StatusCode: 200}
		if err := w.Append(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil { // the final digest covers every event
		t.Fatal(err)
	}
	dir, pub := filepath.Join(root, "eu-west-1"), filepath.Join(root, "audit-key.pub")

	out, stderr, err := runCLI(t, "audit", "verify", dir, "--public-key", pub)
	if err != nil || !strings.HasPrefix(out, dir+": intact:") || strings.Contains(out, "unsealed") {
		t.Fatalf("verify of the sealed trail = %v:\n%s%s", err, out, stderr)
	}

	digests, _ := filepath.Glob(filepath.Join(dir, "digest-*.json"))
	if len(digests) != 2 {
		t.Fatalf("digests = %v, want 2", digests)
	}
	if err := os.Remove(digests[1]); err != nil {
		t.Fatal(err)
	}
	rewriteAndRechain(t, dir, 3, `"inferenceRegion":"us-east-1"`, `"inferenceRegion":"eu-west-1"`)

	tests := []struct {
		name    string
		args    []string
		wantErr error
		want    []string
	}{
		{name: "default", args: []string{"--public-key", pub}, wantErr: errSilentFailure,
			want: []string{dir + ": UNVERIFIED:", "unsealed: 2 events from audit-eu-west-1-", "not proven"}},
		{name: "allow-unsealed", args: []string{"--public-key", pub, "--allow-unsealed"},
			want: []string{dir + ": intact:", "unsealed: 2 events", "accepted (--allow-unsealed)"}},
		{name: "key beside the log", args: nil, wantErr: errSilentFailure,
			want: []string{"UNVERIFIED", "found beside the log (" + pub + ")"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, stderr, err := runCLI(t, append([]string{"audit", "verify", dir}, tc.args...)...)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("exit = %v, want %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s%s", w, out, stderr)
				}
			}
		})
	}
}
