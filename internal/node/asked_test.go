package node

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// FuzzAskedText: whatever a caller puts in a method or path, what a
// control event keeps of it is at most n bytes and valid request metadata
// (so the audit recorder keeps it rather than dropping it).
func FuzzAskedText(f *testing.F) {
	for _, s := range []string{"", "/a//b", "*", "/x%2Ay", "$", "\xff\x00 é", "/" + string(make([]byte, 600))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range []int{maxAskedMethod, maxAskedPath, maxAskedRequestID} {
			got := askedText(s, n)
			if len(got) > n {
				t.Fatalf("askedText(%q, %d) has %d bytes", s, n, len(got))
			}
			if err := inference.ValidateMetadata(map[string]string{"path": got}); err != nil {
				t.Fatalf("askedText(%q, %d) = %q: %v", s, n, got, err)
			}
			if len(s) <= n/3 && len(got) < len(s) {
				t.Fatalf("askedText(%q, %d) = %q: cut a short text", s, n, got)
			}
		}
	})
}
