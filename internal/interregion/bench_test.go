package interregion

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// BenchmarkForward measures one forwarded request end to end over a real
// loopback mTLS link (a kept-alive HTTP/1.1 connection of the pool, as
// every non-streaming forward takes below its bound), source client to
// destination server and back, with the envelope sealed each way in the
// same run: the certificate
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

// BenchmarkForwardStreamToken measures one streamed token as it crosses
// the link: the destination's relay writes the upstream's event (flushing
// it, as it does every event) and the source's remoteStream reads it back,
// through an in-memory pipe so that only the link's own encoding and
// decoding are counted. allocs/op is the allocations per forwarded token.
func BenchmarkForwardStreamToken(b *testing.B) {
	for _, tc := range streamFormats {
		b.Run(tc.name, func(b *testing.B) {
			ev := inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat,
				Raw: []byte(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764000000,"model":"m","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}`)}
			st := pipeStream(b, tc.framed, &repeatStream{ev: ev, n: b.N})
			defer st.Close()
			b.ReportAllocs()
			b.SetBytes(int64(len(ev.Raw)))
			b.ResetTimer()
			for range b.N {
				got, err := st.Recv()
				if err != nil || len(got.Raw) != len(ev.Raw) {
					b.Fatalf("Recv() = %d bytes, %v", len(got.Raw), err)
				}
			}
			if _, err := st.Recv(); err != io.EOF {
				b.Fatalf("Recv() at the end = %v, want io.EOF", err)
			}
		})
	}
}

// BenchmarkForwardStreamTokenLink is BenchmarkForwardStreamToken over a
// real loopback mTLS link (the HTTP/1.1 pool, which a stream takes while a
// connection of it is free): one forwarded stream of b.N tokens,
// each flushed by the destination as it does every event, so that allocs/op
// also counts HTTP's share per token. The ndjson case is a source from
// before stream frames (no Accept), answered as before.
func BenchmarkForwardStreamTokenLink(b *testing.B) {
	for _, tc := range streamFormats {
		b.Run(tc.name, func(b *testing.B) {
			ev := inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat,
				Raw: []byte(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764000000,"model":"m","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}`)}
			c := startLocalLink(b, repeatLocal{ev: ev, n: b.N}, true, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if !tc.framed {
						r.Header.Del("Accept")
					}
					h.ServeHTTP(w, r)
				})
			})
			st, err := c.Executor(dst).Stream(b.Context(), forwardJob())
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			b.ReportAllocs()
			b.SetBytes(int64(len(ev.Raw)))
			b.ResetTimer()
			for range b.N {
				got, err := st.Recv()
				if err != nil || len(got.Raw) != len(ev.Raw) {
					b.Fatalf("Recv() = %d bytes, %v", len(got.Raw), err)
				}
			}
			if _, err := st.Recv(); err != io.EOF {
				b.Fatalf("Recv() at the end = %v, want io.EOF", err)
			}
		})
	}
}

// BenchmarkForwardStreamLink measures whole forwarded streams (the
// request with its envelope, three events, the end) over a real loopback
// mutual TLS link, one after another: pool takes the HTTP/1.1 pool, as a
// stream does while a pooled connection is free; lanes fills the pool
// first, so that the stream overflows to HTTP/2. allocs/op and ns/op are
// per stream, both ends together.
func BenchmarkForwardStreamLink(b *testing.B) {
	ev := inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat,
		Raw: []byte(`{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1764000000,"model":"m","choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}`)}
	for _, tc := range []struct {
		name  string
		lanes bool
	}{{"pool", false}, {"lanes", true}} {
		b.Run(tc.name, func(b *testing.B) {
			c := startLocalLink(b, repeatLocal{ev: ev, n: 3}, true, nil)
			if tc.lanes {
				pool := c.peers[dst].lanes.pool
				for range answerConnsPerPeer {
					pool.take(answerConnsPerPeer)
				}
			}
			job := forwardJob()
			stream := func() {
				st, err := c.Executor(dst).Stream(b.Context(), job)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := st.Recv(); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
				}
				st.Close()
			}
			stream() // the connection and its handshake
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				stream()
			}
		})
	}
}

// repeatLocal serves every forwarded job with a stream of ev, n times.
type repeatLocal struct {
	ev inference.Event
	n  int
}

func (l repeatLocal) ServeForwarded(context.Context, *dispatch.Job) (*dispatch.Outcome, error) {
	return &dispatch.Outcome{Stream: &repeatStream{ev: l.ev, n: l.n}}, nil
}

// benchAnswers are pass-through answers of two sizes: a short chat
// completion, and one of about 8 KiB.
func benchAnswers() []struct {
	name string
	resp *inference.Response
} {
	short := answerFixture()
	long := answerFixture()
	long.Body = []byte(`{"id":"chatcmpl-9","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"` +
		strings.Repeat("All work and no play makes Jack a dull boy. ", 186) + `"},"finish_reason":"stop"}]}`)
	return []struct {
		name string
		resp *inference.Response
	}{{"short", short}, {"8KiB", long}}
}

// BenchmarkForwardAnswer measures one forwarded non-streaming answer's
// encoding at the destination and decoding at the source, without the
// connection (as BenchmarkForwardStreamToken does for a streamed token):
// json is the Response as JSON with its Body in base64, as every answer
// went before the answer form and still goes between a node and an older
// one; answer-v1 is the answer form. answer-v1 reports its speed-up over
// json of the same run; allocs/op is pinned by TestAnswerAllocs.
func BenchmarkForwardAnswer(b *testing.B) {
	for _, a := range benchAnswers() {
		var jsonNs float64
		for _, form := range []struct {
			name       string
			answerForm bool
		}{{"json", false}, {"answer-v1", true}} {
			b.Run(a.name+"/"+form.name, func(b *testing.B) {
				w := &answerWriter{h: http.Header{}}
				r := bytes.NewReader(nil)
				hr := &http.Response{Body: io.NopCloser(r)}
				b.ReportAllocs()
				b.SetBytes(int64(len(a.resp.Body)))
				for b.Loop() {
					got, err := answerTrip(a.resp, form.answerForm, w, r, hr)
					if err != nil || len(got.Body) != len(a.resp.Body) {
						b.Fatalf("answer of %d bytes, %v", len(got.Body), err)
					}
				}
				ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
				if !form.answerForm {
					jsonNs = ns
				} else if jsonNs > 0 {
					b.ReportMetric(jsonNs/ns, "x-faster-than-json")
				}
			})
		}
	}
}

// BenchmarkForwardAnswerLink is BenchmarkForward with a pass-through answer
// (the short one of BenchmarkForwardAnswer, without a receipt, which only
// a caller that asks for one gets) over a real loopback mTLS link (HTTP/1.1)
// with the session MAC: json is a source from before the answer form (no
// Accept), answered as before; answer-v1 reports its speed-up over json of
// the same run.
func BenchmarkForwardAnswerLink(b *testing.B) {
	answer := answerFixture()
	answer.Receipt = ""
	var jsonNs float64
	for _, form := range []struct {
		name       string
		answerForm bool
	}{{"json", false}, {"answer-v1", true}} {
		b.Run(form.name, func(b *testing.B) {
			c, _ := startAnswerLink(b, answer, !form.answerForm, true)
			ex := c.Executor(dst)
			job := forwardJob()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ex.Complete(b.Context(), job); err != nil {
					b.Fatal(err)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if !form.answerForm {
				jsonNs = ns
			} else if jsonNs > 0 {
				b.ReportMetric(jsonNs/ns, "x-faster-than-json")
			}
		})
	}
}
