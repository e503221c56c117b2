package interregion

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// EnvelopeSigner signs every forwarded request with the node's current link
// certificate.
type EnvelopeSigner struct {
	Store *pki.Store
}

// SignForwarded implements Signer.
func (s EnvelopeSigner) SignForwarded(req *http.Request, e envelope.Envelope) error {
	sealed, err := envelope.Sign(e, s.Store.Certificate())
	if err != nil {
		return err
	}
	sealed.SetHeaders(req.Header)
	return nil
}

// EnvelopeVerifier refuses forwarded requests whose envelope does not
// verify, and returns the envelope otherwise: the destination acts only on
// what the source signed.
type EnvelopeVerifier struct {
	Verifier   *envelope.Verifier
	Rejections *envelope.Rejections
	Logger     *slog.Logger
	// Now is the receiver's clock. If nil, time.Now.
	Now func() time.Time
}

// VerifyForwarded implements Verifier.
func (v EnvelopeVerifier) VerifyForwarded(r *http.Request, body []byte) (*envelope.Envelope, error) {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	env, err := v.Verifier.Verify(envelope.FromHeaders(r.Header), pki.PeerCertificate(r), envelope.HashBody(body), now())
	if err != nil {
		if v.Rejections != nil {
			v.Rejections.Envelope(err)
		}
		reason, _ := envelope.ReasonOf(err)
		peer, _ := pki.PeerRegion(r)
		if v.Logger != nil {
			// The request id is logged only from an authentic envelope.
			var id string
			if env != nil {
				id = env.RequestID
			}
			v.Logger.Warn("link request refused", "reason", reason.String(), telemetry.AttrPeer, peer,
				telemetry.AttrRequestID, id, telemetry.AttrError, err)
		}
		return nil, &inference.Error{Kind: inference.KindPermissionDenied, Code: "link_" + reason.String(),
			Message: "link request refused: " + reason.String(), Err: err}
	}
	return env, nil
}

// ProfileIDFromARN returns the profile or model id an ARN names.
func ProfileIDFromARN(arn string) (string, error) {
	a, err := profile.ParseARN(arn)
	if err != nil {
		return "", err
	}
	return a.ID, nil
}

// TopologyChecker is the envelope's topology check against this node's
// own catalog (invariant 1): the profile must exist here, include this
// destination, and a geographic profile's source must lie in its geography.
func TopologyChecker(catalog func() *profile.Catalog) envelope.Checker {
	return envelope.CheckerFunc(func(e *envelope.Envelope) error {
		id, err := ProfileIDFromARN(e.ProfileARN)
		if err != nil {
			return envelope.Rejectf(envelope.ReasonMalformed, "profile ARN: %v", err)
		}
		cat := catalog()
		p, isProfile := cat.Get(id)
		if !isProfile && len(cat.Hosts(id)) == 0 {
			return envelope.Rejectf(envelope.ReasonUnknownProfile, "%s is not a profile or model here", id)
		}
		if isProfile && p.Geographic() && cat.Geography(e.SourceRegion) != p.Scope {
			return envelope.Rejectf(envelope.ReasonGeographyMismatch, "%s is bound to geography %s; source %s is in %s", id, p.Scope, e.SourceRegion, cat.Geography(e.SourceRegion))
		}
		if err := cat.CheckDestination(id, e.SourceRegion, e.DestinationRegion); err != nil {
			return envelope.Rejectf(envelope.ReasonProfileExcludesDestination, "%v", err)
		}
		return nil
	})
}
