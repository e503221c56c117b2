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
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
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
	b.WriteString("# Headers of a forwarded non-streaming answer (Content-*, Meridian-Answer*),\n# a blank line, then the body byte for byte.\n")
	var names []string
	for k := range h {
		if strings.HasPrefix(k, "Content-") || strings.HasPrefix(k, "Meridian-Answer") {
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
			want := checkGolden(t, goldenPath, got, "answer")
			wantForm := strings.HasSuffix(dir, "-as-json")
			if isAnswer(rec.Header().Get("Content-Type")) == wantForm {
				t.Errorf("Content-Type %q; the case's name says as JSON: %v", rec.Header().Get("Content-Type"), wantForm)
			}

			// The golden bytes read back as the Response.
			back, err := readAnswer(parseAnswerWire(t, string(want)), clock.Wall)
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

// skewPeer is a destination for version-skew tests: newer, behind a proxy
// that drops the source's Accept when the source is older (a source from
// before a media type sent none), or an older destination that ignores
// Accept and writes olderBody as olderType. It keeps what it saw.
type skewPeer struct {
	mu                  sync.Mutex
	accept, contentType string
	body                []byte // what the newer destination wrote
}

// start serves the link on a loopback test server and returns a client of
// it in the source region.
func (p *skewPeer) start(t *testing.T, newer http.Handler, olderSource, olderDestination bool, olderType, olderBody string) *Client {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != PathInvoke {
			http.NotFound(w, r)
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.accept = r.Header.Get("Accept")
		if olderSource {
			r.Header.Del("Accept")
		}
		if olderDestination {
			w.Header().Set("Content-Type", olderType)
			io.WriteString(w, olderBody)
			p.contentType = olderType
			return
		}
		rec := httptest.NewRecorder()
		newer.ServeHTTP(rec, r)
		p.contentType = rec.Header().Get("Content-Type")
		p.body = rec.Body.Bytes()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(p.body)
	}))
	t.Cleanup(ts.Close)
	c := NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: ts.Listener.Addr().String()}}, Clock: clock.NewManual(t0)})
	t.Cleanup(c.Close)
	return c
}

// seen returns what the peer saw: the source's Accept, the answer's
// Content-Type and the newer destination's body.
func (p *skewPeer) seen() (accept, contentType string, body []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accept, p.contentType, p.body
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
			var peer skewPeer
			c := peer.start(t, newer, tc.olderSource, tc.olderDestination, "application/json", olderDestination)
			got, err := c.Executor(dst).Complete(t.Context(), forwardJob())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("answer (-sent +read):\n%s", diff)
			}
			accept, contentType, body := peer.seen()
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

// startAnswerLink starts a destination on a real loopback mTLS link (HTTP/2
// offered if h2) that serves every job with answer (startLocalLink), and
// returns the source's client to it and a function that reports the
// Content-Type of the last answer. olderSource drops the request's Accept,
// as a source from before the answer form sent none.
func startAnswerLink(tb testing.TB, answer *inference.Response, olderSource, h2 bool) (*Client, func() string) {
	tb.Helper()
	var mu sync.Mutex
	var contentType string
	c := startLocalLink(tb, answerLocal{answer}, h2, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if olderSource {
				r.Header.Del("Accept")
			}
			h.ServeHTTP(w, r)
			if r.URL.Path == PathInvoke {
				mu.Lock()
				contentType = w.Header().Get("Content-Type")
				mu.Unlock()
			}
		})
	})
	return c, func() string {
		mu.Lock()
		defer mu.Unlock()
		return contentType
	}
}

// startLocalLink starts a destination on a real loopback mTLS link (HTTP/2
// offered if h2) that serves every job with local, verifying envelopes as
// a node does, its handler wrapped by wrap if set, and returns the source's
// client to it.
func startLocalLink(tb testing.TB, local Local, h2 bool, wrap func(http.Handler) http.Handler) *Client {
	tb.Helper()
	f := pkitest.New(tb, "")
	source, dstStore := f.Store(tb, src), f.Store(tb, dst)
	var h http.Handler = NewServer(ServerOptions{Local: local, Verifier: EnvelopeVerifier{
		Verifier: envelope.NewVerifier(envelope.VerifierOptions{Region: dst, VerifySigner: dstStore.VerifyPeer, Checker: euChecker, ReplayCapacity: 1 << 22}),
		Clock:    clock.NewManual(t0),
	}})
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewUnstartedServer(h)
	ts.Config.HTTP2 = ServerHTTP2Config()
	ts.EnableHTTP2 = h2
	ts.TLS = dstStore.ServerTLSConfig(func(r string) bool { return r == src })
	ts.StartTLS()
	tb.Cleanup(ts.Close)
	c := NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: ts.Listener.Addr().String()}},
		Clock: clock.NewManual(t0), TLS: source.ClientTLSConfig, Signer: EnvelopeSigner{Store: source}})
	tb.Cleanup(c.Close)
	return c
}

// TestAnswerOverTheLink: over the real mTLS link, HTTP/2 and HTTP/1.1, a
// pass-through answer (with a receipt of a realistic size, the largest
// header the answer form sends) crosses in the answer form and reads back
// as sent; from a source that does not ask, as JSON.
func TestAnswerOverTheLink(t *testing.T) {
	t.Parallel()
	want := answerFixture()
	want.Receipt = strings.Repeat("eyJhbGciOiJFUzI1NiJ9", 100) + ".eyJ4IjoxfQ.c2ln" // about 2 KB, as a receipt with its certificate
	for _, tc := range []struct {
		name            string
		h2, olderSource bool
		wantType        string
	}{
		{"HTTP/2", true, false, ContentTypeAnswer},
		{"HTTP/1.1", false, false, ContentTypeAnswer},
		{"HTTP/2, older source", true, true, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, contentType := startAnswerLink(t, want, tc.olderSource, tc.h2)
			for i := range 3 { // the second and third reuse the connection
				got, err := c.Executor(dst).Complete(t.Context(), forwardJob())
				if err != nil {
					t.Fatalf("Complete #%d: %v", i, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("answer #%d (-sent +read):\n%s", i, diff)
				}
				if ct := contentType(); ct != tc.wantType {
					t.Errorf("answer #%d's Content-Type = %q, want %q", i, ct, tc.wantType)
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
		{"model with spaces at its ends", func(r *inference.Response) { r.Model = " m " }, true},
		{"id with a semicolon", func(r *inference.Response) { r.ID = "a;usage=1" }, false},
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
			back, err := readAnswer(&http.Response{Header: rec.Header(), Body: io.NopCloser(rec.Body), ContentLength: -1}, clock.Wall)
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

// TestAnswerHeadersMalformed: the headers are read strictly, and a
// malformed one fails the answer as "sent a malformed answer", whatever
// else it holds.
func TestAnswerHeadersMalformed(t *testing.T) {
	t.Parallel()
	const good = "dialect=openai-chat;id=chatcmpl-9;model=gpt-4o-mini;stop=end_turn;usage=3,1,2,5;latency=1234567"
	if got := goodAnswerHeaders().Get(headerAnswer); got != good {
		t.Fatalf("%s of answerFixture = %q, want %q", headerAnswer, got, good)
	}
	meta := func(v string) func(http.Header) { return func(h http.Header) { h.Set(headerAnswer, v) } }
	replace := func(old, new string) func(http.Header) {
		return func(h http.Header) {
			if !strings.Contains(good, old) {
				t.Fatalf("%q is not in %q", old, good)
			}
			h.Set(headerAnswer, strings.Replace(good, old, new, 1))
		}
	}
	tests := []struct {
		name   string
		change func(http.Header)
	}{
		{"metadata missing", func(h http.Header) { h.Del(headerAnswer) }},
		{"metadata empty", meta("")},
		{"metadata twice", func(h http.Header) { h.Add(headerAnswer, good) }},
		{"metadata too long", replace("id=chatcmpl-9", "id="+strings.Repeat("i", maxAnswerText)+";model="+strings.Repeat("m", maxAnswerText)+";x="+strings.Repeat("x", 300))},
		{"dialect missing", replace("dialect=openai-chat;", "")},
		{"dialect unknown", replace("openai-chat", "unknown")},
		{"dialect as a number", replace("openai-chat", "1")},
		{"dialect in capitals", replace("openai-chat", "OPENAI-CHAT")},
		{"dialect not first", meta("id=chatcmpl-9;dialect=openai-chat;usage=3,1,2,5;latency=1")},
		{"dialect twice", replace("dialect=openai-chat", "dialect=openai-chat;dialect=openai-chat")},
		{"id empty", replace("id=chatcmpl-9", "id=")},
		{"id twice", replace("id=chatcmpl-9", "id=chatcmpl-9;id=chatcmpl-9")},
		{"id with a control character", replace("chatcmpl-9", "chat\x01cmpl")},
		{"id with non-ASCII", replace("chatcmpl-9", "réponse")},
		{"id too long", replace("chatcmpl-9", strings.Repeat("i", maxAnswerText+1))},
		{"model before id", replace("id=chatcmpl-9;model=gpt-4o-mini", "model=gpt-4o-mini;id=chatcmpl-9")},
		{"model with DEL", replace("gpt-4o-mini", "gpt\x7f")},
		{"stop reason unknown", replace("end_turn", "tool_use")},
		{"stop reason in capitals", replace("end_turn", "END_TURN")},
		{"stop reason empty", replace("stop=end_turn", "stop=")},
		{"usage missing", replace("usage=3,1,2,5;", "")},
		{"usage of three counts", replace("3,1,2,5", "3,1,2")},
		{"usage of five counts", replace("3,1,2,5", "3,1,2,5,7")},
		{"usage with a trailing comma", replace("3,1,2,5", "3,1,2,5,")},
		{"usage with an empty count", replace("3,1,2,5", "3,,2,5")},
		{"usage with a space", replace("3,1,2,5", "3, 1,2,5")},
		{"usage negative", replace("3,1,2,5", "-3,1,2,5")},
		{"usage with a plus", replace("3,1,2,5", "+3,1,2,5")},
		{"usage with a leading zero", replace("3,1,2,5", "03,1,2,5")},
		{"usage in hex", replace("3,1,2,5", "0x3,1,2,5")},
		{"usage overflowing", replace("3,1,2,5", "9223372036854775808,1,2,5")},
		{"usage of 20 digits", replace("3,1,2,5", "10000000000000000000,1,2,5")},
		{"usage after latency", meta("dialect=openai-chat;latency=1;usage=3,1,2,5")},
		{"latency missing", replace(";latency=1234567", "")},
		{"latency negative", replace("1234567", "-5")},
		{"latency with a unit", replace("1234567", "5ms")},
		{"latency with an exponent", replace("1234567", "1e9")},
		{"latency with a leading zero", replace("1234567", "05")},
		{"latency overflowing", replace("1234567", "9223372036854775808")},
		{"trailing separator", meta(good + ";")},
		{"unknown member", meta(good + ";reasoning=5")},
		{"white space around a member", replace(";usage=", "; usage=")},
		{"receipt empty", func(h http.Header) { h[headerAnswerReceipt] = []string{""} }},
		{"receipt twice", func(h http.Header) { h.Add(headerAnswerReceipt, h.Get(headerAnswerReceipt)) }},
		{"receipt with padding", func(h http.Header) { h.Set(headerAnswerReceipt, "YQ==.YQ.YQ") }},
		{"receipt with a space", func(h http.Header) { h.Set(headerAnswerReceipt, "a b") }},
		{"receipt too long", func(h http.Header) { h.Set(headerAnswerReceipt, strings.Repeat("a", receipt.MaxTokenBytes+1)) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := goodAnswerHeaders()
			tc.change(h)
			_, err := parseAnswerHeaders(h)
			if !errors.Is(err, errMalformedAnswer) {
				t.Fatalf("parseAnswerHeaders(%.300q) = %v, want a malformed answer", h, err)
			}
			if len(err.Error()) > 512 {
				t.Errorf("error of %d bytes echoes the peer's input: %.80s…", len(err.Error()), err)
			}
		})
	}
	// The good headers, and what may be left out, read back.
	for _, tc := range []struct{ name, meta string }{
		{"every member", good},
		{"no id, model or stop reason", "dialect=openai-chat;usage=3,1,2,5;latency=1234567"},
		{"zero counts", "dialect=bedrock-converse;stop=max_tokens;usage=0,0,0,0;latency=0"},
		{"the largest counts", "dialect=anthropic-messages;usage=9223372036854775807,0,0,0;latency=9223372036854775807"},
		{"spaces, commas and = in id and model", "dialect=openai-chat;id= a=b, c ;model=m=1,2 ;usage=3,1,2,5;latency=1"},
	} {
		h := goodAnswerHeaders()
		h.Set(headerAnswer, tc.meta)
		h.Del(headerAnswerReceipt)
		if _, err := parseAnswerHeaders(h); err != nil {
			t.Errorf("%s: parseAnswerHeaders(%q): %v", tc.name, tc.meta, err)
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
			got, err := readAnswer(&http.Response{Header: h, Body: io.NopCloser(strings.NewReader(tc.body)), ContentLength: tc.length}, clock.Wall)
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
			h.Set(headerAnswer, strings.Replace(h.Get(headerAnswer), "end_turn", "tool_use", 1))
			h.Del("Content-Length")
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
// the destination writes for the Response it read, byte for byte.
func FuzzAnswerHeaders(f *testing.F) {
	good := goodAnswerHeaders()
	f.Add(good.Get(headerAnswer), good.Get(headerAnswerReceipt), false)
	f.Add("dialect=bedrock-converse;model=anthropic.claude-3-haiku-20240307-v1:0;stop=max_tokens;usage=0,0,0,0;latency=0", "", false)
	f.Add("dialect=openai-embeddings;id= a=b, c ;usage=9223372036854775807,1,2,3;latency=9223372036854775807", "a.b.c", true)
	f.Add("dialect=unknown;id=;stop=tool_use;usage=01,2;latency=-1;", "a b", false)
	f.Add("dialect=openai-chat;usage=1,2,3,4,;latency=1", "", false)
	f.Fuzz(func(t *testing.T, meta, rcpt string, twice bool) {
		h := http.Header{}
		if meta != "" {
			h[headerAnswer] = []string{meta}
		}
		if rcpt != "" {
			h[headerAnswerReceipt] = []string{rcpt}
		}
		if twice && meta != "" {
			h[headerAnswer] = append(h[headerAnswer], meta)
		}
		resp, err := parseAnswerHeaders(h)
		if err != nil {
			if !errors.Is(err, errMalformedAnswer) || len(err.Error()) > 512 {
				t.Fatalf("error %q", err)
			}
			return
		}
		resp.Body = []byte("{}")
		if !answerFits(&resp) {
			t.Fatalf("accepted %q as %+v, which the destination would not write", h, resp)
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
	return readAnswer(hr, clock.Wall)
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
