package profile

import (
	"errors"
	"testing"

	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestApplicationIDsCannotLookLikeSystemProfiles: an application profile
// "eu.evil" copying a global profile would read as an EU profile while
// serving anywhere; neither the topology nor the API may create one.
func TestApplicationIDsCannotLookLikeSystemProfiles(t *testing.T) {
	t.Parallel()
	cat := testCatalog(t)
	for _, tc := range []struct {
		id, copyFrom string
		wantErr      error
	}{
		{"eu.evil", "global.demo.chat-small", ErrReservedID},
		{"us.evil", "eu.demo.chat-small", ErrReservedID},
		{"global.evil", "eu.demo.chat-small", ErrReservedID},
		{"gov.evil", "us.demo.chat-small", ErrReservedID}, // a geography of this topology
		{"jp.evil", "us.demo.chat-small", ErrReservedID},  // one of Bedrock's
		{"team.claims", "eu.demo.chat-small", nil},
		{"claims2", "global.demo.chat-small", nil},
	} {
		_, _, err := cat.WithApplication(Profile{ID: tc.id, CopyFrom: tc.copyFrom})
		if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
			t.Errorf("WithApplication(%q copying %q) = %v, want %v", tc.id, tc.copyFrom, err, tc.wantErr)
		}
	}

	// A config built in code skips the file's validation; New still refuses.
	cfg, err := topology.Load("testdata/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Profiles.Application = append(cfg.Profiles.Application, topology.ApplicationProfile{ID: "eu.evil", CopyFrom: "global.demo.chat-small"})
	if _, err := New(cfg); !errors.Is(err, ErrReservedID) {
		t.Errorf("New(with eu.evil) = %v, want %v", err, ErrReservedID)
	}
}
