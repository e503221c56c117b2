package envelope_test

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "eu-west-1", "eu-central-1", "us-east-1")
	rogue := pkitest.New(t, "").Store(t, "eu-west-1") // same region, another CA
	src, dst := "eu-west-1", "eu-central-1"
	body := []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"hi"}]}`)
	peer := w.cert(src).Leaf

	// Same region and CA, re-issued: what a source presents after rotating
	// its certificate while an older connection is still open.
	rotatedFixture := *w.f
	rotated := rotatedFixture.Store(t, "eu-west-1")
	rotatedFixture.Issue(t, "eu-west-1")
	if _, err := rotated.Reload(); err != nil {
		t.Fatal(err)
	}

	good := func() envelope.Envelope { return request(src, dst, body, t0) }
	tests := []struct {
		name   string
		sealed func(t *testing.T) envelope.Sealed
		peer   *x509.Certificate
		body   []byte
		now    time.Time
		check  envelope.Checker
		want   envelope.Reason // 0: accepted
	}{
		{name: "genuine", sealed: func(t *testing.T) envelope.Sealed { return mustSign(t, good(), w.cert(src)) }},
		{name: "within window, source clock ahead", now: t0.Add(-30 * time.Second),
			sealed: func(t *testing.T) envelope.Sealed { return mustSign(t, good(), w.cert(src)) }},
		{name: "within window, source clock behind", now: t0.Add(30 * time.Second),
			sealed: func(t *testing.T) envelope.Sealed { return mustSign(t, good(), w.cert(src)) }},
		{name: "stale", now: t0.Add(31 * time.Second), want: envelope.ReasonStale,
			sealed: func(t *testing.T) envelope.Sealed { return mustSign(t, good(), w.cert(src)) }},
		{name: "from the future", now: t0.Add(-31 * time.Second), want: envelope.ReasonStale,
			sealed: func(t *testing.T) envelope.Sealed { return mustSign(t, good(), w.cert(src)) }},
		{name: "body changed", body: []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"rm -rf"}]}`), want: envelope.ReasonBodyHash,
			sealed: func(t *testing.T) envelope.Sealed { return mustSign(t, good(), w.cert(src)) }},
		{name: "destination other than receiver", want: envelope.ReasonWrongDestination,
			sealed: func(t *testing.T) envelope.Sealed {
				e := good()
				e.DestinationRegion = "eu-west-2"
				return mustSign(t, e, w.cert(src))
			}},
		{name: "source region differs from certificate", want: envelope.ReasonRegionMismatch,
			sealed: func(t *testing.T) envelope.Sealed {
				f := fields(t, good())
				f["source_region"] = "eu-north-1"
				return forge(t, f, w.cert(src))
			}},
		{name: "signed by another region's key", peer: peer, want: envelope.ReasonRegionMismatch,
			sealed: func(t *testing.T) envelope.Sealed {
				return forge(t, fields(t, good()), w.cert("us-east-1"))
			}},
		{name: "signed by the same region under another CA", want: envelope.ReasonBadSignature,
			sealed: func(t *testing.T) envelope.Sealed { return forge(t, fields(t, good()), rogue.Certificate()) }},
		{name: "signed with a rotated certificate of the peer's region", peer: peer,
			sealed: func(t *testing.T) envelope.Sealed { return mustSign(t, good(), rotated.Certificate()) }},
		{name: "signature of another envelope", want: envelope.ReasonBadSignature,
			sealed: func(t *testing.T) envelope.Sealed {
				s := mustSign(t, good(), w.cert(src))
				other := good()
				other.PrincipalID = "key/mallory"
				s.Envelope = mustSign(t, other, w.cert(src)).Envelope
				return s
			}},
		{name: "no peer certificate", peer: &x509.Certificate{}, want: envelope.ReasonUnauthenticated,
			sealed: func(t *testing.T) envelope.Sealed { return mustSign(t, good(), w.cert(src)) }},
		{name: "missing signature", want: envelope.ReasonMalformed,
			sealed: func(t *testing.T) envelope.Sealed {
				s := mustSign(t, good(), w.cert(src))
				s.Signature = ""
				return s
			}},
		{name: "padded base64", want: envelope.ReasonMalformed,
			sealed: func(t *testing.T) envelope.Sealed {
				s := mustSign(t, good(), w.cert(src))
				s.Envelope += "="
				return s
			}},
		{name: "unknown field", want: envelope.ReasonMalformed,
			sealed: func(t *testing.T) envelope.Sealed {
				f := fields(t, good())
				f["admin"] = true
				return forge(t, f, w.cert(src))
			}},
		{name: "version newer than this node knows", want: envelope.ReasonMalformed,
			sealed: func(t *testing.T) envelope.Sealed {
				f := fields(t, good())
				f["v"] = envelope.Version + 1
				return forge(t, f, w.cert(src))
			}},
		{name: "version 0", want: envelope.ReasonMalformed,
			sealed: func(t *testing.T) envelope.Sealed {
				f := fields(t, good())
				f["v"] = 0
				return forge(t, f, w.cert(src))
			}},
		{name: "version 1 from a node not yet upgraded",
			sealed: func(t *testing.T) envelope.Sealed {
				f := fields(t, good())
				f["v"] = 1
				for _, k := range []string{"operation", "auth_method", "key_id", "client_ip", "client_tls", "model"} {
					delete(f, k)
				}
				return forge(t, f, w.cert(src))
			}},
		{name: "trailing data", want: envelope.ReasonMalformed,
			sealed: func(t *testing.T) envelope.Sealed {
				return forgePayload(t, []byte(`{"v":1}{}`), w.cert(src))
			}},
		{name: "EU destination asked to serve a us. profile", want: envelope.ReasonProfileExcludesDestination,
			sealed: func(t *testing.T) envelope.Sealed {
				e := good()
				e.ProfileARN = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/us.demo.chat-small"
				return mustSign(t, e, w.cert(src))
			}},
		{name: "geographic profile from outside its geography", peer: w.cert("us-east-1").Leaf, want: envelope.ReasonGeographyMismatch,
			sealed: func(t *testing.T) envelope.Sealed {
				return mustSign(t, request("us-east-1", dst, body, t0), w.cert("us-east-1"))
			}},
		{name: "checker error without reason", want: envelope.ReasonCheckFailed,
			check:  envelope.CheckerFunc(func(*envelope.Envelope) error { return errors.New("topology not loaded") }),
			sealed: func(t *testing.T) envelope.Sealed { return mustSign(t, good(), w.cert(src)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			check := tc.check
			if check == nil {
				check = geoChecker(dst)
			}
			v := envelope.NewVerifier(envelope.VerifierOptions{Region: dst, Checker: check, VerifySigner: w.stores[dst].VerifyPeer})
			p := tc.peer
			if p == nil {
				p = peer
			}
			b := tc.body
			if b == nil {
				b = body
			}
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			sealed := tc.sealed(t)
			e, err := v.Verify(sealed, p, envelope.HashBody(b), now)
			got, _ := envelope.ReasonOf(err)
			if got != tc.want {
				t.Fatalf("Verify = %v, reason %v; want reason %v", err, got, tc.want)
			}
			if tc.want != 0 {
				return
			}
			if e == nil || e.RequestID != "req-1" {
				t.Fatalf("Verify returned envelope %+v", e)
			}
			// The same envelope again is a replay.
			_, err = v.Verify(sealed, p, envelope.HashBody(b), now)
			if r, _ := envelope.ReasonOf(err); r != envelope.ReasonReplay {
				t.Fatalf("second Verify = %v, want replay", err)
			}
		})
	}
}

func TestSignRefusesOtherRegion(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "eu-west-1")
	_, err := envelope.Sign(request("us-east-1", "eu-west-1", nil, t0), w.cert("eu-west-1"))
	if err == nil || !strings.Contains(err.Error(), "certificate is for") {
		t.Fatalf("Sign with another region's certificate = %v, want refusal", err)
	}
	e := request("eu-west-1", "eu-central-1", nil, t0)
	e.IssuedAt = time.Time{}
	if _, err := envelope.Sign(e, w.cert("eu-west-1")); err == nil {
		t.Fatal("Sign without IssuedAt succeeded")
	}
}

func TestReasons(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, r := range envelope.Reasons() {
		s := r.String()
		if s == "unknown" || seen[s] || strings.ToLower(s) != s {
			t.Errorf("reason %d has label %q (duplicate or invalid)", r, s)
		}
		seen[s] = true
	}
	for _, want := range []string{"bad_signature", "region_mismatch", "stale", "replay", "wrong_destination", "body_hash", "profile_excludes_destination", "geography_mismatch", "malformed"} {
		if !seen[want] {
			t.Errorf("Reasons() lacks %q", want)
		}
	}
}
