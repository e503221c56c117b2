package interregion

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/meridian-gateway/meridian/internal/dispatch"
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
func (s EnvelopeSigner) SignForwarded(req *http.Request, job *dispatch.Job, body []byte) error {
	sealed, err := envelope.Sign(envelope.Envelope{
		RequestID: job.RequestID, SourceRegion: job.SourceRegion, DestinationRegion: job.DestinationRegion,
		PrincipalID: job.Principal.ID, ProfileARN: job.ProfileARN, IssuedAt: time.Now(), BodySHA256: envelope.HashBody(body),
	}, s.Store.Certificate())
	if err != nil {
		return err
	}
	sealed.SetHeaders(req.Header)
	return nil
}

// EnvelopeVerifier refuses forwarded requests whose envelope does not
// verify, and replaces the job's identity fields with the envelope's: the
// destination acts only on what the source signed.
type EnvelopeVerifier struct {
	Verifier   *envelope.Verifier
	Rejections *envelope.Rejections
	Logger     *slog.Logger
}

// VerifyForwarded implements Verifier.
func (v EnvelopeVerifier) VerifyForwarded(r *http.Request, job *dispatch.Job, body []byte) error {
	env, err := v.Verifier.Verify(envelope.FromHeaders(r.Header), pki.PeerCertificate(r), envelope.HashBody(body), time.Now())
	if err != nil {
		v.Rejections.Envelope(err)
		reason, _ := envelope.ReasonOf(err)
		peer, _ := pki.PeerRegion(r)
		if v.Logger != nil {
			v.Logger.Warn("link request refused", "reason", reason.String(), telemetry.AttrPeer, peer,
				telemetry.AttrRequestID, job.RequestID, telemetry.AttrError, err)
		}
		return &inference.Error{Kind: inference.KindPermissionDenied, Code: "link_" + reason.String(),
			Message: "link request refused: " + reason.String(), Err: err}
	}
	id, err := ProfileIDFromARN(env.ProfileARN)
	if err != nil {
		return &inference.Error{Kind: inference.KindPermissionDenied, Message: "link request refused: malformed profile ARN", Err: err}
	}
	job.RequestID, job.SourceRegion, job.DestinationRegion = env.RequestID, env.SourceRegion, env.DestinationRegion
	job.Principal.ID, job.ProfileARN, job.ProfileID = env.PrincipalID, env.ProfileARN, id
	return nil
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
