package interregion

import "testing"

// BenchmarkForward measures one forwarded request end to end over a real
// loopback mTLS (HTTP/2) link, source client to destination server and
// back, with the envelope sealed each way in the same run: the certificate
// signature, then the session MAC. The destination serves an empty
// response; the difference between the two is the envelope's cost per
// forwarded request. session-mac reports signature/mac.
func BenchmarkForward(b *testing.B) {
	var signatureNs float64
	for _, tc := range []struct {
		name            string
		withCertificate bool
	}{{"signature", true}, {"session-mac", false}} {
		b.Run(tc.name, func(b *testing.B) {
			l := startLinkProto(b, true, true)
			c := l.client(b, tc.withCertificate)
			job := forwardJob()
			ex := c.Executor(dst)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ex.Complete(b.Context(), job); err != nil {
					b.Fatal(err)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if tc.withCertificate {
				signatureNs = ns
			} else if signatureNs > 0 {
				b.ReportMetric(signatureNs/ns, "x-faster-than-signature")
			}
		})
	}
}
