package openai

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/gateway"
)

// TestRewriteChunkAllocatesNothing: relaying a passed-through chunk with
// the gateway's id and model costs no allocation once the buffers grew.
func TestRewriteChunkAllocatesNothing(t *testing.T) {
	raw := []byte(`{"id":"up-1","object":"chat.completion.chunk","model":"upstream-1","choices":[{"index":0,"delta":{"content":" word","tool_calls":[{"id":"call_1"}]}}],"x_vendor":1}`)
	buf := rewriteChunk(nil, nil, raw, "chatcmpl-req-1", "eu.demo.chat-small")
	want := `{"id":"chatcmpl-req-1","object":"chat.completion.chunk","model":"eu.demo.chat-small","choices":[{"index":0,"delta":{"content":" word","tool_calls":[{"id":"call_1"}]}}],"x_vendor":1}`
	if string(buf) != want {
		t.Fatalf("rewritten chunk\n got %s\nwant %s", buf, want)
	}
	var b, tmp []byte
	rewriteChunk(&b, &tmp, raw, "chatcmpl-req-1", "eu.demo.chat-small")
	if n := testing.AllocsPerRun(100, func() { rewriteChunk(&b, &tmp, raw, "chatcmpl-req-1", "eu.demo.chat-small") }); n != 0 {
		t.Errorf("rewriteChunk allocates %v times per chunk", n)
	}
}

// TestPassThroughEndToEnd: through the front end, the gateway and the
// OpenAI adapter, the upstream receives the client's body byte for byte
// (but the model) and the client receives the upstream's answer and stream
// events byte for byte (but the id and model), unknown fields included.
func TestPassThroughEndToEnd(t *testing.T) {
	t.Parallel()
	const answer = `{"id":"up-1","object":"chat.completion","created":1,"model":"upstream-m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","x_annotation":{"k":[1,2]}},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"x_vendor":"kept"}`
	chunks := []string{
		`{"id":"up-1","object":"chat.completion.chunk","model":"upstream-m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel","x_d":1}}],"x_vendor":"kept"}`,
		`{"id":"up-1","object":"chat.completion.chunk","model":"upstream-m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`,
		`{"id":"up-1","object":"chat.completion.chunk","model":"upstream-m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
	}
	got := make(chan string, 2)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
		if !strings.Contains(string(b), `"stream":true`) {
			io.WriteString(w, answer)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, c := range chunks {
			io.WriteString(w, "data: "+c+"\n\n")
		}
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	defer up.Close()
	b := backend.NewOpenAI(backend.OpenAIConfig{BaseURL: up.URL + "/v1", Model: "upstream-m"})
	defer b.Close()
	srv := newServerWith(t, b)

	body := `{"model":"eu.m", "messages":[{"role":"user","content":"hi","name":"x"}],"x_client":{"keep":true},"logit_bias":{"1":2}}`
	resp, out := post(t, srv, testKey, body)
	if sent := <-got; sent != strings.Replace(body, `"eu.m"`, `"upstream-m"`, 1) {
		t.Errorf("upstream received %s", sent)
	}
	id := resp.Header.Get(gateway.HeaderRequestID)
	want := strings.Replace(strings.Replace(answer, `"up-1"`, `"chatcmpl-`+id+`"`, 1), `"upstream-m"`, `"eu.m"`, 1)
	if resp.StatusCode != 200 || string(out) != want {
		t.Errorf("client received %d %s\nwant %s", resp.StatusCode, out, want)
	}

	sbody := `{"model":"eu.m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	resp, out = post(t, srv, testKey, sbody)
	<-got
	id = resp.Header.Get(gateway.HeaderRequestID)
	var wantStream strings.Builder
	for _, c := range chunks {
		c = strings.Replace(strings.Replace(c, `"up-1"`, `"chatcmpl-`+id+`"`, 1), `"upstream-m"`, `"eu.m"`, 1)
		wantStream.WriteString("data: " + c + "\n\n")
	}
	wantStream.WriteString("data: [DONE]\n\n")
	if string(out) != wantStream.String() {
		t.Errorf("client stream\n%s\nwant\n%s", out, wantStream.String())
	}
}

// TestWriteRawAllocs pins a JSON answer's own headers: one array for the
// Content-Type and Content-Length values and the length's string.
func TestWriteRawAllocs(t *testing.T) {
	body := []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("x", 100) + `"}}]}`)
	w := discardWriter{http.Header{"Content-Type": nil, "Content-Length": nil}}
	if n := testing.AllocsPerRun(100, func() { writeRaw(w, body) }); n != 2 {
		t.Errorf("writeRaw: %v allocations, want 2", n)
	}
	if got, want := w.h.Get("Content-Length"), strconv.Itoa(len(body)); got != want || w.h.Get("Content-Type") != "application/json" {
		t.Errorf("writeRaw: Content-Length %q Content-Type %q, want %s and application/json", got, w.h.Get("Content-Type"), want)
	}
}

// discardWriter is a ResponseWriter that keeps only its header.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header       { return w.h }
func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (discardWriter) WriteHeader(int)             {}

// rewriteAnswerCases are answers rewriteAnswer must give as rewriteChunk
// does: as upstreams send them, and odd ones (members in another order,
// duplicated, missing, malformed, values to escape).
var rewriteAnswerCases = []string{
	`{"id":"up-1","object":"chat.completion","created":1,"model":"upstream-m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
	`{"model":"upstream-m","id":"up-1","choices":[]}`,
	`{"id":"a","model":"m","id":"b","model":"n"}`,
	`{"id":"a","choices":[]}`,
	`{"model":"m"}`,
	`{"id":"a","model":{"n":[1]},"bad":}`,
	`{"id":"a","model":"m"`,
	` { "id" : "a" , "model" : 12 } `,
	`[]`,
	``,
}

// TestRewriteAnswer: a non-streaming answer, rewritten in one copy, is
// byte for byte what the two passes of rewriteChunk give, for request ids
// that need escaping too.
func TestRewriteAnswer(t *testing.T) {
	for _, raw := range rewriteAnswerCases {
		for _, id := range []string{"0123456789abcdef", `req"1`, "réq", ""} {
			for _, model := range []string{"eu.demo.chat-small", "eu.<m>", `m\n`} {
				got := rewriteAnswer([]byte(raw), id, model)
				if want := rewriteChunk(nil, nil, []byte(raw), completionID(id), model); !bytes.Equal(got, want) {
					t.Errorf("%q id %q model %q\n got %s\nwant %s", raw, id, model, got, want)
				}
			}
		}
	}
}

// TestRewriteAnswerAllocs pins one allocation, the answer's copy, for an
// answer as upstreams send it (rewriteChunk's two passes made two).
func TestRewriteAnswerAllocs(t *testing.T) {
	raw := []byte(rewriteAnswerCases[0])
	if n := testing.AllocsPerRun(100, func() { rewriteAnswer(raw, "0123456789abcdef", "eu.demo.chat-small") }); n != 1 {
		t.Errorf("rewriteAnswer: %v allocations, want 1", n)
	}
}

// BenchmarkRewriteAnswer compares the one copy of a non-streaming answer
// with rewriteChunk's two passes, on an answer as mockllm sends it.
func BenchmarkRewriteAnswer(b *testing.B) {
	raw := []byte(`{"id":"chatcmpl-mock1f","object":"chat.completion","created":1765000000,"model":"upstream-m","system_fingerprint":"fp_mockllm","choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("word ", 16) + `"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":16,"total_tokens":36}}`)
	const id, model = "0123456789abcdef", "eu.demo.chat-small"
	b.Run("one-copy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rewriteAnswer(raw, id, model)
		}
	})
	b.Run("two-passes", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rewriteChunk(nil, nil, raw, completionID(id), model)
		}
	})
}

// FuzzRewriteAnswer: rewriteAnswer gives rewriteChunk's bytes for any
// answer and request id.
func FuzzRewriteAnswer(f *testing.F) {
	for _, raw := range rewriteAnswerCases {
		f.Add([]byte(raw), "0123456789abcdef")
	}
	f.Add([]byte(`{"id":"a","model":"m"}`), `req"\1`)
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		const model = "eu.demo.<chat>"
		if got, want := rewriteAnswer(raw, id, model), rewriteChunk(nil, nil, raw, completionID(id), model); !bytes.Equal(got, want) {
			t.Fatalf("%q id %q\n got %s\nwant %s", raw, id, got, want)
		}
	})
}
