package envelope_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

func tiered(version int, tier string) envelope.Envelope {
	return envelope.Envelope{Version: version, RequestID: "req-1", SourceRegion: "eu-west-1", DestinationRegion: "eu-central-1",
		ProfileARN: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small", IssuedAt: time.Unix(1_800_000_000, 0).UTC(),
		ServiceTier: tier}
}

// TestServiceTier: version 4 carries the tier the source admitted the
// request in; a peer on an older version is sent the envelope without it
// (it would refuse the field), and an oversized one is never sealed.
func TestServiceTier(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version int
		tier    string
		want    string // decoded tier
		wantErr string // from sealing
	}{
		{"version 4 carries it", 0, "flex", "flex", ""},
		{"priority", 4, "priority", "priority", ""},
		{"default tier: no field", 4, "", "", ""},
		{"a version 3 peer is sent none", 3, "flex", "", ""},
		{"a version 1 peer is sent none", 1, "priority", "", ""},
		{"too long", 4, strings.Repeat("f", 17), "", "service_tier is longer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sealed, err := envelope.Unsigned(tiered(tc.version, tc.tier))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Unsigned(tier %q) error = %v, want %q", tc.tier, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unsigned(tier %q): %v", tc.tier, err)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(sealed.Envelope)
			if tc.want == "" && strings.Contains(string(raw), "service_tier") {
				t.Errorf("payload %s carries a service tier", raw)
			}
			e, err := envelope.Decode(sealed.Envelope)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if e.ServiceTier != tc.want {
				t.Errorf("decoded service tier = %q, want %q", e.ServiceTier, tc.want)
			}
		})
	}
}

// TestServiceTierNeedsVersion4: a payload that claims version 3 but
// carries the version 4 field is malformed.
func TestServiceTierNeedsVersion4(t *testing.T) {
	t.Parallel()
	sealed, err := envelope.Unsigned(tiered(4, "flex"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed.Envelope)
	forged := strings.Replace(string(raw), `"v":4`, `"v":3`, 1)
	if _, err := envelope.Decode(base64.RawURLEncoding.EncodeToString([]byte(forged))); err == nil || !strings.Contains(err.Error(), "service_tier is not a field of version 3") {
		t.Errorf("Decode of a version 3 envelope with service_tier = %v, want refused", err)
	}
}
