package envelope_test

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// world is a CA with stores for the regions used in tests.
type world struct {
	f      *pkitest.Fixture
	stores map[string]*pki.Store
}

func newWorld(t testing.TB, regions ...string) *world {
	t.Helper()
	w := &world{f: pkitest.New(t, ""), stores: map[string]*pki.Store{}}
	for _, r := range regions {
		w.stores[r] = w.f.Store(t, r)
	}
	return w
}

func (w *world) cert(region string) *tls.Certificate { return w.stores[region].Certificate() }

// request returns an envelope from src to dst for body.
func request(src, dst string, body []byte, now time.Time) envelope.Envelope {
	return envelope.Envelope{
		RequestID:         "req-1",
		SourceRegion:      src,
		DestinationRegion: dst,
		PrincipalID:       "key/alice",
		ProfileARN:        "arn:aws:bedrock:" + src + ":123456789012:inference-profile/eu.demo.chat-small",
		IssuedAt:          now,
		BodySHA256:        envelope.HashBody(body),
	}
}

func mustSign(t testing.TB, e envelope.Envelope, cert *tls.Certificate) envelope.Sealed {
	t.Helper()
	s, err := envelope.Sign(e, cert)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return s
}

// forge signs arbitrary JSON fields with cert's key, the way a rogue node
// holding a genuine key (but not using Sign's checks) would.
func forge(t testing.TB, fields map[string]any, cert *tls.Certificate) envelope.Sealed {
	t.Helper()
	payload, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return forgePayload(t, payload, cert)
}

func forgePayload(t testing.TB, payload []byte, cert *tls.Certificate) envelope.Sealed {
	t.Helper()
	h := sha256.New()
	h.Write([]byte("meridian link envelope v1\x00"))
	h.Write(payload)
	sig, err := cert.PrivateKey.(crypto.Signer).Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return envelope.Sealed{
		Envelope:    base64.RawURLEncoding.EncodeToString(payload),
		Signature:   base64.RawURLEncoding.EncodeToString(sig),
		Certificate: base64.RawURLEncoding.EncodeToString(cert.Certificate[0]),
	}
}

// fields returns e as the generic JSON object Sign would write.
func fields(t testing.TB, e envelope.Envelope) map[string]any {
	t.Helper()
	e.Version = envelope.Version
	if e.Nonce.IsZero() {
		e.Nonce = envelope.NewNonce()
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// geoChecker is the test stand-in for the topology checks: profiles named
// "<geo>.<model>" may run in regions whose name starts with the geography
// ("eu-" for eu) and be invoked from such regions.
func geoChecker(receiver string) envelope.Checker {
	return envelope.CheckerFunc(func(e *envelope.Envelope) error {
		geo := profileGeo(e.ProfileARN)
		switch {
		case geo == "":
			return envelope.Rejectf(envelope.ReasonUnknownProfile, "profile %q unknown", e.ProfileARN)
		case !hasPrefix(receiver, geo+"-"):
			return envelope.Rejectf(envelope.ReasonProfileExcludesDestination, "profile %q excludes %s", e.ProfileARN, receiver)
		case !hasPrefix(e.SourceRegion, geo+"-"):
			return envelope.Rejectf(envelope.ReasonGeographyMismatch, "source %s outside geography %s", e.SourceRegion, geo)
		}
		return nil
	})
}

func profileGeo(arn string) string {
	const marker = "inference-profile/"
	for i := 0; i+len(marker) <= len(arn); i++ {
		if arn[i:i+len(marker)] == marker {
			id := arn[i+len(marker):]
			for j := 0; j < len(id); j++ {
				if id[j] == '.' {
					return id[:j]
				}
			}
		}
	}
	return ""
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }
