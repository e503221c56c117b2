package receipt_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/receipt"
)

// BenchmarkSign measures a receipt against its floor, one bare ECDSA P-256
// signature, in the same run: the difference is encoding.
func BenchmarkSign(b *testing.B) {
	ca := newCA(b, "")
	eu := issue(b, ca, "eu-central-1", 0)
	c := claimsFor("eu-central-1", "req-1", []byte("q"), []byte("a"))
	chain := []*x509.Certificate{eu.Cert}
	digest := sha256.Sum256([]byte("x"))
	b.Run("baseline=ecdsa", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ecdsa.SignASN1(rand.Reader, eu.Key, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("receipt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := receipt.Sign(c, eu.Key, chain); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
	})
}

// BenchmarkVerify measures a receipt's verification against its floor, a
// bare ECDSA verification and the x509 chain check, in the same run.
func BenchmarkVerify(b *testing.B) {
	ca := newCA(b, "")
	eu := issue(b, ca, "eu-central-1", 0)
	tok := sign(b, claimsFor("eu-central-1", "req-1", []byte("q"), []byte("a")), eu)
	roots := poolOf(ca.Cert)
	now := base.Add(2 * time.Hour)
	digest := sha256.Sum256([]byte("x"))
	sig, _ := ecdsa.SignASN1(rand.Reader, eu.Key, digest[:])
	b.Run("baseline=ecdsa+chain", func(b *testing.B) {
		b.ReportAllocs()
		opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		for b.Loop() {
			if !ecdsa.VerifyASN1(&eu.Key.PublicKey, digest[:], sig) {
				b.Fatal("bad signature")
			}
			if _, err := eu.Cert.Verify(opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("receipt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := receipt.Verify(tok, roots, now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
	})
}

// BenchmarkAnswerHasher is the per-event cost a stream writer pays.
func BenchmarkAnswerHasher(b *testing.B) {
	h := receipt.NewAnswerHasher()
	piece := "a typical streamed delta of some words "
	b.ReportAllocs()
	b.SetBytes(int64(len(piece)))
	for b.Loop() {
		h.WriteString(piece)
	}
}
