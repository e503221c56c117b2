package envelope_test

import (
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

// FuzzDecode feeds arbitrary envelope header values to the decoder: it
// must not panic, and anything it accepts must survive a re-encode and
// decode unchanged.
func FuzzDecode(f *testing.F) {
	w := newWorld(f, "eu-west-1")
	sealed := mustSign(f, request("eu-west-1", "eu-central-1", []byte("body"), t0), w.cert("eu-west-1"))
	f.Add(sealed.Envelope)
	raw, _ := base64.RawURLEncoding.DecodeString(sealed.Envelope)
	for _, s := range []string{
		string(raw),
		`{"v":1}`,
		`{"v":1,"request_id":"r","source_region":"a","destination_region":"b","profile_arn":"p","issued_at":"2026-11-25T10:00:00Z","nonce":"AAAAAAAAAAAAAAAAAAAAAQ","body_sha256":"` + "00000000000000000000000000000000000000000000000000000000000000ff" + `"}`,
		`{"V":1,"REQUEST_ID":"r"}`,
		`[]`, `null`, `{"v":1}{"v":1}`,
	} {
		f.Add(base64.RawURLEncoding.EncodeToString([]byte(s)))
	}
	f.Add("!!!")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		e, err := envelope.Decode(header)
		if err != nil {
			return
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", e, err)
		}
		back, err := envelope.Decode(base64.RawURLEncoding.EncodeToString(b))
		if err != nil {
			t.Fatalf("decode of re-encoded %s: %v", b, err)
		}
		if !back.IssuedAt.Equal(e.IssuedAt) {
			t.Fatalf("issued_at %v became %v", e.IssuedAt, back.IssuedAt)
		}
		back.IssuedAt = e.IssuedAt
		if !reflect.DeepEqual(back, e) {
			t.Fatalf("round trip changed the envelope:\n got %+v\nwant %+v", back, e)
		}
	})
}

// FuzzVerify feeds arbitrary header values to the verifier with a genuine
// peer: it must not panic, and must refuse everything but the seed.
func FuzzVerify(f *testing.F) {
	w := newWorld(f, "eu-west-1", "eu-central-1")
	body := []byte("body")
	sealed := mustSign(f, request("eu-west-1", "eu-central-1", body, t0), w.cert("eu-west-1"))
	f.Add(sealed.Envelope, sealed.Signature, sealed.Certificate)
	f.Add(sealed.Envelope, sealed.Signature, "")
	f.Add(sealed.Envelope+"A", sealed.Signature, sealed.Certificate)
	f.Add("", "", "")
	peer := w.cert("eu-west-1").Leaf
	f.Fuzz(func(t *testing.T, env, sig, cert string) {
		// A fresh verifier each time: the seed is accepted once per run.
		v := envelope.NewVerifier(envelope.VerifierOptions{Region: "eu-central-1", Checker: geoChecker("eu-central-1"), VerifySigner: w.stores["eu-central-1"].VerifyPeer})
		s := envelope.Sealed{Envelope: env, Signature: sig, Certificate: cert}
		_, err := v.Verify(s, peer, envelope.HashBody(body), t0)
		if err == nil && (env != sealed.Envelope || cert != sealed.Certificate) {
			t.Fatalf("Verify accepted a modified envelope %q / certificate %q", env, cert)
		}
		if err != nil {
			if _, ok := envelope.ReasonOf(err); !ok {
				t.Fatalf("Verify error without reason: %v", err)
			}
		}
	})
}
