package openai

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/gateway"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/passthrough")

// TestPassThroughStreamGolden: a passed-through stream reaches the client
// as the golden file holds it, byte for byte: each upstream chunk with the
// gateway's id and model set in it, and nothing else changed. The golden
// files were written by the relay that rewrote a chunk in two passes
// (rewriteChunk); the relay that writes the bytes around the two values
// must give the same bytes, for chunks as upstreams send them and for odd
// ones (members in another order, duplicated, missing, malformed).
//
// The request id, which changes with every request, is written as
// REQUEST-ID in the golden files.
func TestPassThroughStreamGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "passthrough", "*.sse"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no upstream streams in testdata/passthrough (%v)", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sse")
		t.Run(name, func(t *testing.T) {
			upstream, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				w.Write(upstream)
			}))
			defer up.Close()
			b := backend.NewOpenAI(backend.OpenAIConfig{BaseURL: up.URL + "/v1", Model: "upstream-m"})
			defer b.Close()
			srv := newServerWith(t, b)
			resp, out := post(t, srv, testKey, `{"model":"eu.m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, out)
			}
			id := resp.Header.Get(gateway.HeaderRequestID)
			if id == "" {
				t.Fatal("no request id")
			}
			out = bytes.ReplaceAll(out, []byte(id), []byte("REQUEST-ID"))
			golden := filepath.Join("testdata", "passthrough", name+".golden")
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("client stream\n%s\nwant (%s)\n%s", out, golden, want)
			}
		})
	}
}

// TestRawChunkWriterAllocatesNothing: once a stream's first chunk is
// written, a chunk costs no allocation, whether written around its id and
// model or (a chunk one walk cannot read) through rewriteChunk.
func TestRawChunkWriterAllocatesNothing(t *testing.T) {
	for _, raw := range []string{
		`{"id":"up-1","object":"chat.completion.chunk","model":"upstream-1","choices":[{"index":0,"delta":{"content":" word"}}]}`,
		`{"model":"upstream-1","id":"up-1","choices":[{"index":0,"delta":{"content":" word"}}]}`,
		`{"id":"up-1","choices":[],"bad":,"model":"upstream-1"}`,
	} {
		var rw rawChunkWriter
		bw := bufio.NewWriterSize(io.Discard, 4096)
		b := []byte(raw)
		rw.write(bw, b, "chatcmpl-req-1", "eu.demo.chat-small")
		if n := testing.AllocsPerRun(100, func() { rw.write(bw, b, "chatcmpl-req-1", "eu.demo.chat-small") }); n != 0 {
			t.Errorf("%s: %v allocations per chunk", raw, n)
		}
	}
}

// BenchmarkRawChunk compares writing a chunk around its id and model with
// rewriting it in two passes, on a chunk as mockllm sends it.
func BenchmarkRawChunk(b *testing.B) {
	raw := []byte(`{"id":"chatcmpl-mock1f","object":"chat.completion.chunk","created":1765000000,"model":"upstream-m","system_fingerprint":"fp_mockllm","choices":[{"index":0,"delta":{"content":" word"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	const id, model = "chatcmpl-0123456789abcdef", "eu.demo.chat-small"
	bw := bufio.NewWriterSize(io.Discard, 4096)
	b.Run("around", func(b *testing.B) {
		var rw rawChunkWriter
		b.ReportAllocs()
		for b.Loop() {
			rw.write(bw, raw, id, model)
		}
	})
	b.Run("two-passes", func(b *testing.B) {
		var buf, tmp []byte
		b.ReportAllocs()
		for b.Loop() {
			buf = rewriteChunk(&buf, &tmp, raw, id, model)
			bw.Write(buf)
		}
	})
}

// FuzzRawChunkWriter: chunks written one after another (the second often
// starting with the first's head) come out as rewriteChunk writes each.
func FuzzRawChunkWriter(f *testing.F) {
	const head = `{"id":"chatcmpl-mock1f","object":"chat.completion.chunk","created":1765000000,"model":"upstream-m",`
	f.Add([]byte(head+`"choices":[{"delta":{"content":"a"}}]}`), []byte(head+`"choices":[]}`))
	f.Add([]byte(`{"id":"a","model":1,"x":2}`), []byte(`{"id":"a","model":12,"x":2}`))
	f.Add([]byte(`{"id":"a","model":1}`), []byte(`{"id":"a","model":1`))
	f.Add([]byte(`{"model":"m","id":"a"}`), []byte(`{"model":"m","id":"a","id":"b"}`))
	f.Add([]byte(`{"id":"a","model":"m"}`), []byte(`{"id":"a","model":"m\"}`))
	f.Add([]byte(`{"id":"a","model":{"n":[1]}}`), []byte(`{"id":"a","model":{"n":[1]},"bad":}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		const id, model = "chatcmpl-req-1", "eu.demo.<chat>"
		var rw rawChunkWriter
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		for _, raw := range [][]byte{a, b, a} {
			out.Reset()
			rw.write(bw, raw, id, model)
			bw.Flush()
			if want := rewriteChunk(nil, nil, raw, id, model); !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("%q\n got %s\nwant %s", raw, out.Bytes(), want)
			}
		}
	})
}
