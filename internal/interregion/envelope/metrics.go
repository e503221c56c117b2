package envelope

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/pki"
)

// Rejections counts refused link requests in
// meridian_link_rejections_total{reason}, for envelope refusals ([Reason])
// and handshake refusals ([pki.PeerError] reasons) alike. Every label
// value is created at zero up front, so dashboards see the full, bounded
// set. Safe for concurrent use.
type Rejections struct {
	vec *prometheus.CounterVec
}

// peerReasons are the handshake refusal labels defined by package pki.
var peerReasons = []string{
	pki.ReasonNoCertificate, pki.ReasonUntrusted, pki.ReasonTrustDomain,
	pki.ReasonRegionMismatch, pki.ReasonUnknownRegion, pki.ReasonMalformedIdentity,
}

// NewRejections creates the counter and registers it on reg (if not nil).
func NewRejections(reg prometheus.Registerer) (*Rejections, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meridian_link_rejections_total",
		Help: "Inter-region link requests and handshakes refused, by reason.",
	}, []string{"reason"})
	for _, r := range Reasons() {
		vec.WithLabelValues(r.String())
	}
	for _, r := range peerReasons {
		vec.WithLabelValues(r)
	}
	if reg != nil {
		if err := reg.Register(vec); err != nil {
			return nil, err
		}
	}
	return &Rejections{vec: vec}, nil
}

// Envelope counts err, an error from [Verifier.Verify]; errors without a
// [Reason] count as malformed.
func (r *Rejections) Envelope(err error) {
	reason, ok := ReasonOf(err)
	if !ok {
		reason = ReasonMalformed
	}
	r.vec.WithLabelValues(reason.String()).Inc()
}

// Peer counts a handshake refusal; pass it as pki.StoreOptions.PeerRejected
// (wrapped with any logging the caller does).
func (r *Rejections) Peer(e *pki.PeerError) {
	r.vec.WithLabelValues(e.Reason).Inc()
}
