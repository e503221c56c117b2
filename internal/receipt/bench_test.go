package receipt_test

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/receipt"
)

func BenchmarkSign(b *testing.B) {
	ca := newCA(b, "")
	eu := issue(b, ca, "eu-central-1", 0)
	c := claimsFor("eu-central-1", "req-1", []byte("q"), []byte("a"))
	chain := []*x509.Certificate{eu.Cert}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := receipt.Sign(c, eu.Key, chain); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
}

func BenchmarkVerify(b *testing.B) {
	ca := newCA(b, "")
	eu := issue(b, ca, "eu-central-1", 0)
	tok := sign(b, claimsFor("eu-central-1", "req-1", []byte("q"), []byte("a")), eu)
	roots := poolOf(ca.Cert)
	now := base.Add(2 * time.Hour)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := receipt.Verify(tok, roots, now); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "receipts/s")
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
