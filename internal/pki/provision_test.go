package pki

import "testing"

func TestProvision(t *testing.T) {
	t.Parallel()
	cfg, err := Provision(t.TempDir(), "", "us-east-1", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"us-east-1", "eu-west-1"} {
		s, err := NewStore(cfg.StoreOptions(r))
		if err != nil {
			t.Fatalf("NewStore(%s): %v", r, err)
		}
		if got := s.Identity(); got != (Identity{DefaultTrustDomain, r}) {
			t.Errorf("identity = %v, want region %s", got, r)
		}
	}
}
