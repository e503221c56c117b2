package envelope_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
)

func TestRejections(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	r, err := envelope.NewRejections(reg)
	if err != nil {
		t.Fatal(err)
	}
	r.Envelope(envelope.Rejectf(envelope.ReasonReplay, "again"))
	r.Envelope(envelope.Rejectf(envelope.ReasonReplay, "again"))
	r.Peer(&pki.PeerError{Reason: pki.ReasonUntrusted})

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "meridian_link_rejections_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if want := len(envelope.Reasons()) + 5; len(got) != want { // region_mismatch is shared
		t.Errorf("%d label values pre-created, want %d: %v", len(got), want, got)
	}
	for reason, want := range map[string]float64{"replay": 2, "untrusted_certificate": 1, "stale": 0, "bad_signature": 0} {
		if g, ok := got[reason]; !ok || g != want {
			t.Errorf("meridian_link_rejections_total{reason=%q} = %v (present %v), want %v", reason, g, ok, want)
		}
	}
}
