package envelope_test

import (
	"testing"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

// linkEnvelope is a version 4 envelope with every field set, as a
// forwarded request with a traced, authenticated caller carries.
func linkEnvelope(body []byte) envelope.Envelope {
	e := request("eu-west-1", "eu-central-1", body, t0)
	e.Operation, e.AuthMethod, e.KeyID, e.ClientIP, e.ClientTLS, e.Model = "Converse", "apiKey", "key-0123456789ab", "198.51.100.7", true, "demo.chat-small"
	e.TraceParent, e.ServiceTier = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "flex"
	return e
}

// BenchmarkLinkEnvelope measures each end of a forwarded request's
// envelope apart, with the session key held per connection as the link
// does: seal is the source's Prepare and [envelope.Prepared.MAC],
// seal-connkey the same with [envelope.ConnKey.MAC], verify the destination's
// VerifyConnectionKey (base64, MAC, parse, checks, replay cache) of
// envelopes sealed beforehand, each with its own nonce.
func BenchmarkLinkEnvelope(b *testing.B) {
	w := newWorld(b, "eu-west-1", "eu-central-1")
	client, server := connPair(b, w, "eu-west-1", "eu-central-1")
	k := *sessionKey(b, client)
	e := linkEnvelope(make([]byte, 4096))

	b.Run("seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p, err := envelope.Prepare(e)
			if err != nil {
				b.Fatal(err)
			}
			if p.MAC(&k) == "" {
				b.Fatal("no MAC")
			}
		}
	})
	b.Run("seal-connkey", func(b *testing.B) {
		var ck envelope.ConnKey
		b.ReportAllocs()
		for b.Loop() {
			p, err := envelope.Prepare(e)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ck.MAC(p, client); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		sealed := make([]envelope.Sealed, 4096)
		for i := range sealed {
			s, err := envelope.Seal(e, &k)
			if err != nil {
				b.Fatal(err)
			}
			sealed[i] = s
		}
		newVerifier := func() *envelope.Verifier {
			return envelope.NewVerifier(envelope.VerifierOptions{Region: "eu-central-1", Checker: geoChecker("eu-central-1"), ReplayCapacity: len(sealed)})
		}
		v := newVerifier()
		var ck envelope.ConnKey
		if _, err := ck.Get(server); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == len(sealed) {
				// Every nonce is used: a fresh cache, outside the timing.
				b.StopTimer()
				v, i = newVerifier(), 0
				b.StartTimer()
			}
			if _, err := v.VerifyConnectionKey(sealed[i], server, &ck, e.BodySHA256, t0); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
