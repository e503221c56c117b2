package node

import "testing"

// mayNeedCleanCases are paths around every way path cleaning changes one.
var mayNeedCleanCases = []string{"", "a", "/", "/a", "/a/", "//a", "/a//b", "/./a", "/a/.", "/a/..", "/../a",
	"/.well-known/x", "/a/b.c/d", "/v1/chat/completions", "/a/.b/", "/model/x%2F..%2Fy/converse", "/a/...", "/a/./"}

// TestMayNeedClean: the redirect recorder's cheap filter never misses a
// path the mux would redirect to its cleaned form.
func TestMayNeedClean(t *testing.T) {
	for _, p := range mayNeedCleanCases {
		if cleanPath(p) != p && !mayNeedClean(p) {
			t.Errorf("mayNeedClean(%q) = false, but cleanPath gives %q", p, cleanPath(p))
		}
	}
}

func FuzzMayNeedClean(f *testing.F) {
	for _, p := range mayNeedCleanCases {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if cleanPath(p) != p && !mayNeedClean(p) {
			t.Errorf("mayNeedClean(%q) = false, but cleanPath gives %q", p, cleanPath(p))
		}
	})
}
