package auth

import (
	"testing"
)

// BenchmarkSigV4Verify measures the verification of a signed Converse
// request (7 signed headers, 1 KiB body), the per-request cost SigV4 adds.
func BenchmarkSigV4Verify(b *testing.B) {
	v := newTestSigV4(b, nil)
	body := make([]byte, 1024)
	for i := range body {
		body[i] = 'a' + byte(i%26)
	}
	r := signed(b, "POST", "/model/eu.demo.chat-small/converse", body, "eu-west-1", sigNow, testSecret, nil)
	if _, err := v.Verify(r, body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(r, body); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}
