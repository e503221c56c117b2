package auth

import (
	"crypto/sha256"
	"testing"

	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestAPIKeyAllocs: checking an API key allocates nothing: the key id a
// principal carries (for the audit trail) is formatted once per stored
// key, not on every request, and is the one keyID gives.
func TestAPIKeyAllocs(t *testing.T) {
	k1, _ := NewKey()
	k2, _ := NewKey()
	a, err := New(&topology.Config{Principals: []topology.Principal{
		{ID: "alice", APIKeys: []string{HashKey(k1)}},
		{ID: "bob", APIKeys: []string{HashKey(k2)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{k1, k2} {
		p, err := a.APIKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if want := keyID(sha256.Sum256([]byte(k))); p.KeyID != want {
			t.Errorf("APIKey: key id %q, want %q", p.KeyID, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { a.APIKey(k2) }); n != 0 {
		t.Errorf("APIKey allocates %v times, want 0", n)
	}
}
