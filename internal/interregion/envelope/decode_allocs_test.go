package envelope_test

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

// TestDecodeAllocs pins the allocations of reading an envelope header: one
// string that every field is a substring of (the header is decoded into a
// pooled buffer). A forwarded request pays it at the destination.
func TestDecodeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	e := request("eu-west-1", "eu-central-1", []byte("body"), t0)
	e.Operation, e.AuthMethod, e.KeyID, e.ClientIP, e.ClientTLS, e.Model = "Converse", "apiKey", "key-0123456789ab", "198.51.100.7", true, "demo.chat-small"
	e.TraceParent, e.ServiceTier = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "flex"
	s, err := envelope.Unsigned(e)
	if err != nil {
		t.Fatal(err)
	}
	const maxAllocs = 1
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := envelope.Decode(s.Envelope); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > maxAllocs {
		t.Errorf("Decode allocates %v times per envelope, want at most %d", allocs, maxAllocs)
	}
}
