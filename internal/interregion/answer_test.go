package interregion

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/receipt"
)

// readGoldenResponse reads testdata/answer/<case>: response.json, the
// Response as JSON without its Body, and body, the Body byte for byte
// (none when the file is absent).
func readGoldenResponse(tb testing.TB, dir string) *inference.Response {
	tb.Helper()
	in, err := os.ReadFile(filepath.Join(dir, "response.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var resp inference.Response
	if err := json.Unmarshal(in, &resp); err != nil {
		tb.Fatalf("response.json: %v", err)
	}
	if resp.Body != nil {
		tb.Fatal("response.json: the body goes in the file body")
	}
	if body, err := os.ReadFile(filepath.Join(dir, "body")); err == nil {
		resp.Body = body
	} else if !errors.Is(err, os.ErrNotExist) {
		tb.Fatal(err)
	}
	return &resp
}

// answerWire renders an answer as it crosses the link: its Content-* and
// Meridian-Answer-* headers sorted, a blank line, and the body byte for
// byte.
func answerWire(h http.Header, body []byte) string {
	var b strings.Builder
	b.WriteString("# Headers of a forwarded non-streaming answer (Content-*, Meridian-Answer-*),\n# a blank line, then the body byte for byte.\n")
	var names []string
	for k := range h {
		if strings.HasPrefix(k, "Content-") || strings.HasPrefix(k, "Meridian-Answer-") {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range h[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(body)
	return b.String()
}

// parseAnswerWire reads answerWire's output back as the HTTP response a
// source receives.
func parseAnswerWire(tb testing.TB, s string) *http.Response {
	tb.Helper()
	head, body, ok := strings.Cut(s, "\n\n")
	if !ok {
		tb.Fatalf("no blank line after the headers in %q", s)
	}
	h := http.Header{}
	for line := range strings.SplitSeq(head, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ": ")
		if !ok {
			tb.Fatalf("header line %q", line)
		}
		h.Add(k, v)
	}
	n := int64(-1)
	if cl := h.Get("Content-Length"); cl != "" {
		var err error
		if n, err = strconv.ParseInt(cl, 10, 64); err != nil {
			tb.Fatalf("Content-Length %q", cl)
		}
	}
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: n}
}

// TestAnswerGolden pins the bytes of a forwarded non-streaming answer: for
// each case under testdata/answer, the Response (response.json and body)
// as a destination writes it to a source that asked for the answer form,
// in answer.golden. The golden bytes must read back as the Response, so a
// change that breaks deployed peers fails here. Run with -update to
// rewrite the golden files after a deliberate format change (which then
// needs a new media type version).
func TestAnswerGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/answer/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			resp := readGoldenResponse(t, dir)
			rec := httptest.NewRecorder()
			writeAnswer(rec, resp, true)
			got := answerWire(rec.Header(), rec.Body.Bytes())
			goldenPath := filepath.Join(dir, "answer.golden")
			if *update {
				if err := os.WriteFile(goldenPath, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenPath)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("answer differs from %s (-want +got):\n%s", goldenPath, diff)
			}
			wantForm := strings.HasSuffix(dir, "-as-json")
			if isAnswer(rec.Header().Get("Content-Type")) == wantForm {
				t.Errorf("Content-Type %q; the case's name says as JSON: %v", rec.Header().Get("Content-Type"), wantForm)
			}

			// The golden bytes read back as the Response.
			back, err := readAnswer(parseAnswerWire(t, string(want)))
			if err != nil {
				t.Fatalf("readAnswer(%s): %v", goldenPath, err)
			}
			if diff := cmp.Diff(resp, back); diff != "" {
				t.Errorf("%s reads back as another Response (-written +read):\n%s", goldenPath, diff)
			}
		})
	}
}

// answerFixture is a pass-through answer with every field set.
func answerFixture() *inference.Response {
	return &inference.Response{ID: "chatcmpl-9", Model: "gpt-4o-mini", Dialect: inference.DialectOpenAIChat,
		Body:       []byte(`{"id":"chatcmpl-9","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}` + "\n"),
		StopReason: inference.StopEndTurn, Usage: inference.Usage{InputTokens: 3, OutputTokens: 1, CacheReadInputTokens: 2, CacheWriteInputTokens: 5},
		Latency: 1234567, Receipt: "aGVhZGVy.cGF5bG9hZA.c2ln"}
}

// answerLocal serves every forwarded job with a copy of its answer.
type answerLocal struct{ resp *inference.Response }

func (l answerLocal) ServeForwarded(context.Context, *dispatch.Job) (*dispatch.Outcome, error) {
	resp := *l.resp
	return &dispatch.Outcome{Response: &resp}, nil
}

// TestAnswerWithOlderPeers: a non-streaming answer between a node that
// knows the answer form and one from before it, either way round, goes as
// the JSON of before, and the source reads the same Response in every
// case. An older source is simulated by a request without Accept (it sent
// none), an older destination by one that ignores Accept and writes what
// nodes from before the answer form wrote, byte for byte.
func TestAnswerWithOlderPeers(t *testing.T) {
	t.Parallel()
	want := answerFixture()
	// olderDestination is what a destination from before the answer form
	// wrote for want: the Response as JSON, its Body in base64.
	const olderDestination = `{"id":"chatcmpl-9","model":"gpt-4o-mini","dialect":1,"body":"eyJpZCI6ImNoYXRjbXBsLTkiLCJvYmplY3QiOiJjaGF0LmNvbXBsZXRpb24iLCJtb2RlbCI6ImdwdC00by1taW5pIiwiY2hvaWNlcyI6W3siaW5kZXgiOjAsIm1lc3NhZ2UiOnsicm9sZSI6ImFzc2lzdGFudCIsImNvbnRlbnQiOiJoaSJ9LCJmaW5pc2hfcmVhc29uIjoic3RvcCJ9XX0K","message":{"role":"","content":null},"stopReason":"end_turn","usage":{"inputTokens":3,"outputTokens":1,"cacheReadInputTokens":2,"cacheWriteInputTokens":5},"latency":1234567,"receipt":"aGVhZGVy.cGF5bG9hZA.c2ln"}
`
	newer := NewServer(ServerOptions{Local: answerLocal{want}})
	for _, tc := range []struct {
		name                          string
		olderSource, olderDestination bool
		wantType                      string
	}{
		{"newer source, newer destination", false, false, ContentTypeAnswer},
		{"older source, newer destination", true, false, "application/json"},
		{"newer source, older destination", false, true, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var accept, contentType string
			var body []byte
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != PathInvoke {
					http.NotFound(w, r)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				accept = r.Header.Get("Accept")
				if tc.olderSource {
					r.Header.Del("Accept")
				}
				if tc.olderDestination {
					w.Header().Set("Content-Type", "application/json")
					io.WriteString(w, olderDestination)
					contentType = w.Header().Get("Content-Type")
					return
				}
				rec := httptest.NewRecorder()
				newer.ServeHTTP(rec, r)
				contentType = rec.Header().Get("Content-Type")
				body = rec.Body.Bytes()
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				w.Write(body)
			}))
			t.Cleanup(ts.Close)
			c := NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: ts.Listener.Addr().String()}}, Clock: clock.NewManual(t0)})
			t.Cleanup(c.Close)
			got, err := c.Executor(dst).Complete(t.Context(), forwardJob())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answer (-sent +read):\n%s", diff)
			}
			mu.Lock()
			defer mu.Unlock()
			if !accepts(accept, ContentTypeAnswer) {
				t.Errorf("the source's Accept %q does not ask for %s", accept, ContentTypeAnswer)
			}
			if contentType != tc.wantType {
				t.Errorf("answer's Content-Type = %q, want %q", contentType, tc.wantType)
			}
			if tc.olderSource {
				if string(body) != olderDestination {
					t.Errorf("the newer destination wrote for an older source:\n%s\nwant, as before the answer form:\n%s", body, olderDestination)
				}
				// And the older source's reading of it, as it was.
				var old inference.Response
				if err := json.NewDecoder(bytes.NewReader(body)).Decode(&old); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want, &old); diff != "" {
					t.Errorf("an older source reads (-sent +read):\n%s", diff)
				}
			}
		})
	}
}

// TestAnswerFormOnlyWhenItFits: the destination answers a source that
// asked for the answer form in it only when the Response reads back the
// same from it; anything else goes as JSON, unchanged.
func TestAnswerFormOnlyWhenItFits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		change func(*inference.Response)
		fits   bool
	}{
		{"pass-through answer", func(*inference.Response) {}, true},
		{"no receipt, id, model or stop reason", func(r *inference.Response) { r.Receipt, r.ID, r.Model, r.StopReason = "", "", "", "" }, true},
		{"zero usage and latency", func(r *inference.Response) { r.Usage, r.Latency = inference.Usage{}, 0 }, true},
		{"no body", func(r *inference.Response) { r.Body = nil }, false},
		{"empty body", func(r *inference.Response) { r.Body = []byte{} }, false},
		{"a message besides the body", func(r *inference.Response) { r.Message = inference.TextMessage(inference.RoleAssistant, "hi") }, false},
		{"an empty message content", func(r *inference.Response) { r.Message.Content = []inference.Block{} }, false},
		{"unknown dialect", func(r *inference.Response) { r.Dialect = inference.DialectUnknown }, false},
		{"dialect out of range", func(r *inference.Response) { r.Dialect = 200 }, false},
		{"unknown stop reason", func(r *inference.Response) { r.StopReason = "tool_use" }, false},
		{"id with a newline", func(r *inference.Response) { r.ID = "a\nb" }, false},
		{"id with non-ASCII", func(r *inference.Response) { r.ID = "réponse" }, false},
		{"model with a trailing space", func(r *inference.Response) { r.Model = "m " }, false},
		{"model too long", func(r *inference.Response) { r.Model = strings.Repeat("m", maxAnswerText+1) }, false},
		{"model as long as allowed", func(r *inference.Response) { r.Model = strings.Repeat("m", maxAnswerText) }, true},
		{"receipt with padding", func(r *inference.Response) { r.Receipt = "YQ==" }, false},
		{"receipt too long", func(r *inference.Response) { r.Receipt = strings.Repeat("a", receipt.MaxTokenBytes+1) }, false},
		{"negative usage", func(r *inference.Response) { r.Usage.OutputTokens = -1 }, false},
		{"negative latency", func(r *inference.Response) { r.Latency = -1 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := answerFixture()
			tc.change(resp)
			rec := httptest.NewRecorder()
			writeAnswer(rec, resp, true)
			if got := isAnswer(rec.Header().Get("Content-Type")); got != tc.fits {
				t.Errorf("Content-Type %q, want the answer form: %v", rec.Header().Get("Content-Type"), tc.fits)
			}
			back, err := readAnswer(&http.Response{Header: rec.Header(), Body: io.NopCloser(rec.Body), ContentLength: -1})
			if err != nil {
				t.Fatalf("readAnswer: %v", err)
			}
			var viaJSON inference.Response
			b, _ := json.Marshal(resp)
			json.Unmarshal(b, &viaJSON)
			if diff := cmp.Diff(&viaJSON, back); diff != "" {
				t.Errorf("the source reads another Response than from JSON (-JSON +read):\n%s", diff)
			}

			// Not asked: JSON, as nodes from before the answer form wrote.
			rec = httptest.NewRecorder()
			writeAnswer(rec, resp, false)
			var before bytes.Buffer
			json.NewEncoder(&before).Encode(resp)
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" || rec.Body.String() != before.String() {
				t.Errorf("not asked for the answer form: %s %s, want application/json %s", ct, rec.Body, before.String())
			}
		})
	}
}

// goodAnswerHeaders returns the answer form's headers of answerFixture.
func goodAnswerHeaders() http.Header {
	h := http.Header{}
	setAnswerHeaders(h, answerFixture())
	return h
}

// TestAnswerHeadersMalformed: each header is read strictly, and a
// malformed one fails the answer as "sent a malformed answer", whatever
// else it holds.
func TestAnswerHeadersMalformed(t *testing.T) {
	t.Parallel()
	set := func(k, v string) func(http.Header) { return func(h http.Header) { h.Set(k, v) } }
	del := func(k string) func(http.Header) { return func(h http.Header) { h.Del(k) } }
	twice := func(k string) func(http.Header) { return func(h http.Header) { h.Add(k, h.Get(k)) } }
	tests := []struct {
		name   string
		change func(http.Header)
	}{
		{"dialect missing", del(headerAnswerDialect)},
		{"dialect empty", set(headerAnswerDialect, "")},
		{"dialect twice", twice(headerAnswerDialect)},
		{"dialect unknown", set(headerAnswerDialect, "unknown")},
		{"dialect as a number", set(headerAnswerDialect, "1")},
		{"dialect in capitals", set(headerAnswerDialect, "OPENAI-CHAT")},
		{"id empty", set(headerAnswerID, "")},
		{"id twice", twice(headerAnswerID)},
		{"id with a control character", set(headerAnswerID, "a\x01b")},
		{"id with non-ASCII", set(headerAnswerID, "réponse")},
		{"id too long", set(headerAnswerID, strings.Repeat("i", maxAnswerText+1))},
		{"id with a leading space", set(headerAnswerID, " id")},
		{"model with DEL", set(headerAnswerModel, "m\x7f")},
		{"stop reason unknown", set(headerAnswerStopReason, "tool_use")},
		{"stop reason in capitals", set(headerAnswerStopReason, "END_TURN")},
		{"stop reason empty", set(headerAnswerStopReason, "")},
		{"usage missing", del(headerAnswerUsage)},
		{"usage twice", twice(headerAnswerUsage)},
		{"usage short", set(headerAnswerUsage, "input=1;output=2;cache_read=0")},
		{"usage with a fifth count", set(headerAnswerUsage, "input=1;output=2;cache_read=0;cache_write=0;reasoning=1")},
		{"usage with a trailing separator", set(headerAnswerUsage, "input=1;output=2;cache_read=0;cache_write=0;")},
		{"usage out of order", set(headerAnswerUsage, "output=2;input=1;cache_read=0;cache_write=0")},
		{"usage with spaces", set(headerAnswerUsage, "input=1; output=2;cache_read=0;cache_write=0")},
		{"usage negative", set(headerAnswerUsage, "input=-1;output=2;cache_read=0;cache_write=0")},
		{"usage with a plus", set(headerAnswerUsage, "input=+1;output=2;cache_read=0;cache_write=0")},
		{"usage with a leading zero", set(headerAnswerUsage, "input=01;output=2;cache_read=0;cache_write=0")},
		{"usage empty count", set(headerAnswerUsage, "input=;output=2;cache_read=0;cache_write=0")},
		{"usage in hex", set(headerAnswerUsage, "input=0x1;output=2;cache_read=0;cache_write=0")},
		{"usage overflowing", set(headerAnswerUsage, "input=9223372036854775808;output=2;cache_read=0;cache_write=0")},
		{"usage of 20 digits", set(headerAnswerUsage, "input=10000000000000000000;output=2;cache_read=0;cache_write=0")},
		{"latency missing", del(headerAnswerLatency)},
		{"latency negative", set(headerAnswerLatency, "-5")},
		{"latency with a unit", set(headerAnswerLatency, "5ms")},
		{"latency with an exponent", set(headerAnswerLatency, "1e9")},
		{"latency with a leading zero", set(headerAnswerLatency, "05")},
		{"latency overflowing", set(headerAnswerLatency, "9223372036854775808")},
		{"receipt empty", set(headerAnswerReceipt, "")},
		{"receipt twice", twice(headerAnswerReceipt)},
		{"receipt with padding", set(headerAnswerReceipt, "YQ==.YQ.YQ")},
		{"receipt with a space", set(headerAnswerReceipt, "a b")},
		{"receipt too long", set(headerAnswerReceipt, strings.Repeat("a", receipt.MaxTokenBytes+1))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := goodAnswerHeaders()
			tc.change(h)
			_, err := parseAnswerHeaders(h)
			if !errors.Is(err, errMalformedAnswer) {
				t.Fatalf("parseAnswerHeaders(%v) = %v, want a malformed answer", h, err)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error of %d bytes echoes the peer's input: %.80s…", len(err.Error()), err)
			}
		})
	}
	// The good headers, and what may be left out, read back.
	for _, k := range []string{"", headerAnswerID, headerAnswerModel, headerAnswerStopReason, headerAnswerReceipt} {
		h := goodAnswerHeaders()
		h.Del(k)
		if _, err := parseAnswerHeaders(h); err != nil {
			t.Errorf("parseAnswerHeaders without %q: %v", k, err)
		}
	}
}

// TestAnswerBodyMalformed: the body of the answer form is bounded and must
// be as long as its Content-Length says.
func TestAnswerBodyMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		body   string
		length int64
		ok     bool
	}{
		{"as announced", "abc", 3, true},
		{"length unknown", "abc", -1, true},
		{"empty", "", 0, false},
		{"empty, length unknown", "", -1, false},
		{"cut off", "ab", 3, false},
		{"longer than announced", "abcd", 3, false},
		{"announced above the bound", "abc", maxAnswerBytes + 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := goodAnswerHeaders()
			got, err := readAnswer(&http.Response{Header: h, Body: io.NopCloser(strings.NewReader(tc.body)), ContentLength: tc.length})
			if (err == nil) != tc.ok {
				t.Fatalf("readAnswer(%q, length %d) = %v, want ok=%v", tc.body, tc.length, err, tc.ok)
			}
			if err == nil && string(got.Body) != tc.body {
				t.Errorf("body %q, want %q", got.Body, tc.body)
			}
		})
	}
}

// TestMalformedAnswerOverTheLink: a destination whose answer form does not
// parse fails the forward as it fails on malformed JSON: KindUpstream,
// "region ... sent a malformed answer".
func TestMalformedAnswerOverTheLink(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter)
	}{
		{"malformed JSON", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":`)
		}},
		{"answer form with an unknown stop reason", func(w http.ResponseWriter) {
			h := goodAnswerHeaders()
			h.Set(headerAnswerStopReason, "tool_use")
			maps(w.Header(), h)
			io.WriteString(w, `{"id":"chatcmpl-9"}`)
		}},
		{"answer form cut off", func(w http.ResponseWriter) {
			maps(w.Header(), goodAnswerHeaders())
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, `{"id":"chatcmpl-9"}`)
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != PathInvoke {
					http.NotFound(w, r)
					return
				}
				tc.write(w)
			}))
			ts.Config.ErrorLog = discardLog
			t.Cleanup(ts.Close)
			c := NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: ts.Listener.Addr().String()}}, Clock: clock.NewManual(t0)})
			t.Cleanup(c.Close)
			_, err := c.Executor(dst).Complete(t.Context(), forwardJob())
			var e *inference.Error
			if !errors.As(err, &e) || e.Kind != inference.KindUpstream || e.Message != "region "+dst+" sent a malformed answer" {
				t.Fatalf("Complete = %v, want KindUpstream \"region %s sent a malformed answer\"", err, dst)
			}
		})
	}
}

// discardLog silences the http.Server of a test that aborts a handler.
var discardLog = log.New(io.Discard, "", 0)

// maps copies the headers of src into dst.
func maps(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

// FuzzAnswerHeaders feeds arbitrary answer headers, as a peer could send
// them, to the source's reader: it must not panic, must refuse with a
// malformed answer of bounded size, and whatever it accepts must be what
// the destination writes for the Response it read, header for header.
func FuzzAnswerHeaders(f *testing.F) {
	good := goodAnswerHeaders()
	f.Add(good.Get(headerAnswerDialect), good.Get(headerAnswerID), good.Get(headerAnswerModel), good.Get(headerAnswerStopReason),
		good.Get(headerAnswerUsage), good.Get(headerAnswerLatency), good.Get(headerAnswerReceipt), uint8(0))
	f.Add("bedrock-converse", "", "anthropic.claude-3-haiku-20240307-v1:0", "max_tokens", "input=0;output=0;cache_read=0;cache_write=0", "0", "", uint8(0))
	f.Add("openai-chat", "a", "b", "end_turn", "input=1;output=2;cache_read=3;cache_write=4", "9223372036854775807", "a.b.c", uint8(1))
	f.Add("unknown", " x", "\x00", "tool_use", "input=01;output=2", "-1", "a b", uint8(0xff))
	f.Fuzz(func(t *testing.T, dialect, id, model, stop, usage, latency, rcpt string, twice uint8) {
		h := http.Header{}
		for i, kv := range [...][2]string{
			{headerAnswerDialect, dialect}, {headerAnswerID, id}, {headerAnswerModel, model}, {headerAnswerStopReason, stop},
			{headerAnswerUsage, usage}, {headerAnswerLatency, latency}, {headerAnswerReceipt, rcpt},
		} {
			if kv[1] == "" {
				continue
			}
			h[kv[0]] = []string{kv[1]}
			if twice&(1<<i) != 0 {
				h[kv[0]] = append(h[kv[0]], kv[1])
			}
		}
		resp, err := parseAnswerHeaders(h)
		if err != nil {
			if !errors.Is(err, errMalformedAnswer) || len(err.Error()) > 200 {
				t.Fatalf("error %q", err)
			}
			return
		}
		resp.Body = []byte("{}")
		if !answerFits(&resp) {
			t.Fatalf("accepted %v as %+v, which the destination would not write", h, resp)
		}
		back := http.Header{}
		setAnswerHeaders(back, &resp)
		back.Del("Content-Type")
		back.Del("Content-Length")
		if diff := cmp.Diff(h, back); diff != "" {
			t.Fatalf("accepted headers differ from what the destination writes for %+v (-read +written):\n%s", resp, diff)
		}
	})
}

// answerWriter is an http.ResponseWriter whose header map and buffer are
// reused, so that a benchmark counts the answer's encoding only.
type answerWriter struct {
	h    http.Header
	body bytes.Buffer
}

func (w *answerWriter) Header() http.Header         { return w.h }
func (w *answerWriter) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *answerWriter) WriteHeader(int)             {}

// answerTrip writes resp at the destination (in the answer form if
// answerForm) and reads it at the source, reusing w, r and hr: one
// forwarded non-streaming answer's encoding and decoding.
func answerTrip(resp *inference.Response, answerForm bool, w *answerWriter, r *bytes.Reader, hr *http.Response) (*inference.Response, error) {
	clear(w.h)
	w.body.Reset()
	writeAnswer(w, resp, answerForm)
	r.Reset(w.body.Bytes())
	hr.Header, hr.ContentLength = w.h, -1
	if cl, err := strconv.ParseInt(w.h.Get("Content-Length"), 10, 64); err == nil {
		hr.ContentLength = cl
	}
	return readAnswer(hr)
}

// TestAnswerAllocs pins the allocations of one forwarded non-streaming
// answer in the answer form (the destination's encoding and the source's
// decoding, as BenchmarkForwardAnswer measures them): the headers' values
// and numbers at the destination, the Response and its Body at the
// source, whatever the size of the Body.
func TestAnswerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	resp := answerFixture()
	w := &answerWriter{h: http.Header{}}
	r := bytes.NewReader(nil)
	hr := &http.Response{Body: io.NopCloser(r)}
	var err error
	const maxAllocs = 4
	allocs := testing.AllocsPerRun(100, func() {
		var got *inference.Response
		if got, err = answerTrip(resp, true, w, r, hr); err == nil && !bytes.Equal(got.Body, resp.Body) {
			err = errors.New("body changed")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if allocs > maxAllocs {
		t.Errorf("a forwarded answer allocates %v times, want at most %d", allocs, maxAllocs)
	}
}
