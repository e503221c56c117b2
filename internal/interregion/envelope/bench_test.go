package envelope_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

// BenchmarkSignVerify measures one forwarded request's envelope cost:
// Sign at the source plus Verify at the destination (base64, JSON,
// signature, checks, replay cache). The ecdsa and ed25519 sub-benchmarks
// are the bare signature operations on the same payload, as the baseline
// for the design choice in docs/security.md.
func BenchmarkSignVerify(b *testing.B) {
	w := newWorld(b, "eu-west-1", "eu-central-1")
	body := make([]byte, 4096)
	cert := w.cert("eu-west-1")
	peer := cert.Leaf

	b.Run("envelope", func(b *testing.B) {
		v := envelope.NewVerifier(envelope.VerifierOptions{Region: "eu-central-1", Checker: geoChecker("eu-central-1"), ReplayCapacity: 1 << 24})
		e := request("eu-west-1", "eu-central-1", body, t0)
		b.ReportAllocs()
		for b.Loop() {
			e.Nonce = envelope.Nonce{}
			s, err := envelope.Sign(e, cert)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.Verify(s, peer, e.BodySHA256, t0); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "envelopes/s")
	})
	payload := make([]byte, 420) // the size of an encoded envelope
	digest := sha256.Sum256(payload)
	b.Run("ecdsa-p256-bare", func(b *testing.B) {
		key := cert.PrivateKey.(*ecdsa.PrivateKey)
		b.ReportAllocs()
		for b.Loop() {
			sig, _ := ecdsa.SignASN1(rand.Reader, key, digest[:])
			if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
				b.Fatal("verify")
			}
		}
	})
	b.Run("ed25519-bare", func(b *testing.B) {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		b.ReportAllocs()
		for b.Loop() {
			sig := ed25519.Sign(priv, payload)
			if !ed25519.Verify(pub, payload, sig) {
				b.Fatal("verify")
			}
		}
	})
}

// signatureNsPerOp is the cost of BenchmarkSealVerify/signature in this
// run, the baseline of BenchmarkSealVerify/session-mac's ratio.
var signatureNsPerOp float64

// BenchmarkSealVerify compares one forwarded request's envelope cost
// sealed both ways, in one run, over one real loopback TLS 1.3 connection:
//
//   - signature: Sign at the source (ECDSA P-256 with the certificate's
//     key) and VerifyConnection at the destination (certificate path);
//   - session-mac: the session key exported at both ends (as each did per
//     request), Seal at the source and VerifyConnection at the destination.
//   - session-mac-key-per-connection: the same with the key of the
//     connection held at both ends, as the link does: Seal and
//     VerifyConnectionKey.
//
// Both include JSON, base64, every check and the replay cache; the body
// hash is computed once outside. session-mac reports signature/mac, the
// speed-up.
func BenchmarkSealVerify(b *testing.B) {
	w := newWorld(b, "eu-west-1", "eu-central-1")
	client, server := connPair(b, w, "eu-west-1", "eu-central-1")
	cert := w.cert("eu-west-1")
	newVerifier := func() *envelope.Verifier {
		return envelope.NewVerifier(envelope.VerifierOptions{Region: "eu-central-1", Checker: geoChecker("eu-central-1"), ReplayCapacity: 1 << 24})
	}
	e := request("eu-west-1", "eu-central-1", make([]byte, 4096), t0)

	b.Run("signature", func(b *testing.B) {
		v := newVerifier()
		b.ReportAllocs()
		for b.Loop() {
			s, err := envelope.Sign(e, cert)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.VerifyConnection(s, server, e.BodySHA256, t0); err != nil {
				b.Fatal(err)
			}
		}
		signatureNsPerOp = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "envelopes/s")
	})
	b.Run("session-mac", func(b *testing.B) {
		v := newVerifier()
		b.ReportAllocs()
		for b.Loop() {
			k, err := envelope.SessionKeyFrom(client)
			if err != nil {
				b.Fatal(err)
			}
			s, err := envelope.Seal(e, &k)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.VerifyConnection(s, server, e.BodySHA256, t0); err != nil {
				b.Fatal(err)
			}
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "envelopes/s")
		if signatureNsPerOp > 0 {
			b.ReportMetric(signatureNsPerOp/ns, "x-faster-than-signature")
		}
	})
	b.Run("session-mac-key-per-connection", func(b *testing.B) {
		v := newVerifier()
		k := *sessionKey(b, client)
		var ck envelope.ConnKey
		if _, err := ck.Get(server); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			s, err := envelope.Seal(e, &k)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.VerifyConnectionKey(s, server, &ck, e.BodySHA256, t0); err != nil {
				b.Fatal(err)
			}
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "envelopes/s")
		if signatureNsPerOp > 0 {
			b.ReportMetric(signatureNsPerOp/ns, "x-faster-than-signature")
		}
	})
	b.Run("session-key-export", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := envelope.SessionKeyFrom(client); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReplayCache measures Add in steady state: the clock advances so
// that about half the capacity is live and every Add also evicts.
func BenchmarkReplayCache(b *testing.B) {
	const capacity = 1 << 18
	const window = 30 * time.Second
	step := 2 * window / (capacity / 2)
	b.Run("serial", func(b *testing.B) {
		c := envelope.NewReplayCache(window, capacity)
		b.ReportAllocs()
		i := uint64(0)
		for b.Loop() {
			i++
			if err := c.Add(nonce(i), t0.Add(time.Duration(i)*step)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "nonces/s")
	})
	b.Run("parallel", func(b *testing.B) {
		c := envelope.NewReplayCache(window, capacity)
		var ctr atomic.Uint64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := ctr.Add(1)
				if err := c.Add(nonce(i), t0.Add(time.Duration(i)*step)); err != nil {
					if r, _ := envelope.ReasonOf(err); r != envelope.ReasonReplayCacheFull {
						b.Fatal(err)
					}
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "nonces/s")
	})
}
