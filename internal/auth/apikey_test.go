package auth

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/topology"
)

func TestAPIKey(t *testing.T) {
	t.Parallel()
	k1, _ := NewKey()
	k2, _ := NewKey()
	cfg := &topology.Config{Principals: []topology.Principal{
		{ID: "alice", APIKeys: []string{HashKey(k1)}, Tags: map[string]string{"team": "a"}, Policies: []string{"p"}},
		{ID: "bob", Username: "robert", APIKeys: []string{HashKey(k2)}},
	}}
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key      string
		wantID   string
		wantUser string
		wantErr  error
	}{
		{k1, "alice", "alice", nil},
		{k2, "bob", "robert", nil},
		{"", "", "", ErrMissingCredentials},
		{k1 + "x", "", "", ErrInvalidCredentials},
		{strings.ToUpper(k1), "", "", ErrInvalidCredentials},
	}
	for _, tc := range tests {
		p, err := a.APIKey(tc.key)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("APIKey(%q) error = %v, want %v", tc.key, err, tc.wantErr)
			continue
		}
		if err == nil && (p.ID != tc.wantID || p.Username != tc.wantUser || p.Method != MethodAPIKey || !strings.HasPrefix(p.KeyID, "key-")) {
			t.Errorf("APIKey(%q) = %+v, want id %s user %s", tc.key, p, tc.wantID, tc.wantUser)
		}
		if err == nil && strings.Contains(p.KeyID, tc.key[3:15]) {
			t.Errorf("KeyID %q reveals the key", p.KeyID)
		}
	}
}

func TestBearerKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ header, value, want string }{
		{"Authorization", "Bearer mk-abc", "mk-abc"},
		{"Authorization", "bearer mk-abc ", "mk-abc"},
		{"Authorization", "Basic xyz", ""},
		{"X-Api-Key", "mk-abc", "mk-abc"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(tc.header, tc.value)
		if got := BearerKey(r); got != tc.want {
			t.Errorf("BearerKey(%s: %s) = %q, want %q", tc.header, tc.value, got, tc.want)
		}
	}
}

func TestHashKeyMatchesConfigFormat(t *testing.T) {
	t.Parallel()
	h := HashKey("mk-test")
	if !strings.HasPrefix(h, "sha256:") || len(h) != 7+64 {
		t.Fatalf("HashKey = %q", h)
	}
}
