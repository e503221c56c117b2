package mockllm_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// discard is a ResponseWriter that keeps nothing, so that benchmarks measure
// the server alone.
type discard struct {
	h     http.Header
	bytes int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Flush()                      {}
func (d *discard) Write(p []byte) (int, error) { d.bytes += len(p); return len(p), nil }

// inProcess serves one request body repeatedly through the handler.
type inProcess struct {
	h    http.Handler
	body *bytes.Reader
	req  *http.Request
	w    *discard
}

func newInProcess(cfg mockllm.Config, body string) *inProcess {
	p := &inProcess{h: mockllm.New(cfg).Handler(), body: bytes.NewReader([]byte(body)), w: &discard{h: http.Header{}}}
	p.req = httptest.NewRequest(http.MethodPost, "/v1/chat/completions", p.body)
	return p
}

func (p *inProcess) do() {
	p.body.Seek(0, 0)
	clear(p.w.h)
	p.h.ServeHTTP(p.w, p.req)
}

const (
	benchBody       = `{"model":"m","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Summarise the plan in two sentences."}]}`
	benchStreamBody = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Summarise the plan in two sentences."}]}`
)

// TestFewAllocs holds mockllm's zero-think-time promise: an unpaced
// completion costs a bounded number of allocations, independent of its
// length (request decoding dominates; generation and encoding allocate
// nothing per token).
func TestFewAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are stable but take a moment")
	}
	tests := []struct {
		name string
		body string
		max  float64
	}{
		{"non-streaming", benchBody, 30},
		{"streaming", benchStreamBody, 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, tokens := range []int{16, 512} {
				p := newInProcess(mockllm.Config{CompletionTokens: tokens}, tc.body)
				p.do() // warm the pools
				if got := testing.AllocsPerRun(50, p.do); got > tc.max {
					t.Errorf("%d-token completion: %v allocations per request, want <= %v", tokens, got, tc.max)
				}
			}
		})
	}
}

func BenchmarkChatCompletion(b *testing.B) {
	for _, bc := range []struct {
		name string
		body string
	}{
		{"non-streaming", benchBody},
		{"streaming", benchStreamBody},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := newInProcess(mockllm.Config{CompletionTokens: 64}, bc.body)
			b.ReportAllocs()
			for b.Loop() {
				p.do()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "completions/s")
			b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkChatCompletionHTTP measures a completion over a real loopback
// connection, the way proxies are benchmarked against the server.
func BenchmarkChatCompletionHTTP(b *testing.B) {
	hs := httptest.NewServer(mockllm.New(mockllm.Config{CompletionTokens: 64}).Handler())
	defer hs.Close()
	client := hs.Client()
	b.ReportAllocs()
	for b.Loop() {
		resp, err := client.Post(hs.URL+"/v1/chat/completions", "application/json", bytes.NewReader([]byte(benchStreamBody)))
		if err != nil {
			b.Fatal(err)
		}
		var buf [4096]byte
		for {
			if _, err := resp.Body.Read(buf[:]); err != nil {
				break
			}
		}
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "completions/s")
}
