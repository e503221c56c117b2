package node

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// clientTransports are the ways a client reaches a cleartext client
// listener: HTTP/1.1, and HTTP/2 with prior knowledge (h2c).
var clientTransports = []struct {
	name  string
	proto string // the response's Proto
	new   func() *http.Transport
}{
	{"http1", "HTTP/1.1", func() *http.Transport {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP1(true)
		return tr
	}},
	{"h2c", "HTTP/2.0", func() *http.Transport {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		return tr
	}},
}

// TestClientListenerHTTP2: a cleartext client listener serves HTTP/1.1
// and HTTP/2 with prior knowledge, and every response, errors included,
// carries x-request-id equal to x-meridian-request-id (the OpenAI SDKs
// read the first).
func TestClientListenerHTTP2(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "")
	for _, tr := range clientTransports {
		t.Run(tr.name, func(t *testing.T) {
			transport := tr.new()
			defer transport.CloseIdleConnections()
			hc := &http.Client{Transport: transport}
			client := func(key string) *oa.Client {
				cl := oa.NewClient(option.WithBaseURL(c.url("eu-west-1")+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0), option.WithHTTPClient(hc))
				return &cl
			}
			params := oa.ChatCompletionNewParams{Model: "eu.demo.chat-small", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hello")}}
			checkIDs := func(t *testing.T, resp *http.Response) {
				t.Helper()
				if resp.Proto != tr.proto {
					t.Errorf("served over %s, want %s", resp.Proto, tr.proto)
				}
				id := resp.Header.Get("X-Request-Id")
				if id == "" || id != resp.Header.Get("X-Meridian-Request-Id") {
					t.Errorf("x-request-id %q, x-meridian-request-id %q: want equal and set", id, resp.Header.Get("X-Meridian-Request-Id"))
				}
			}

			t.Run("chat completion", func(t *testing.T) {
				var raw *http.Response
				out, err := client(c.key).Chat.Completions.New(t.Context(), params, option.WithResponseInto(&raw))
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Choices) != 1 || out.Choices[0].Message.Content == "" {
					t.Errorf("response = %+v", out)
				}
				checkIDs(t, raw)
			})
			t.Run("stream", func(t *testing.T) {
				var raw *http.Response
				s := client(c.key).Chat.Completions.NewStreaming(t.Context(), params, option.WithResponseInto(&raw))
				var text strings.Builder
				for s.Next() {
					for _, ch := range s.Current().Choices {
						text.WriteString(ch.Delta.Content)
					}
				}
				if err := s.Err(); err != nil || text.Len() == 0 {
					t.Fatalf("stream: %q, %v", text.String(), err)
				}
				checkIDs(t, raw)
			})
			t.Run("error carries the request id", func(t *testing.T) {
				_, err := client("mk-wrong").Chat.Completions.New(t.Context(), params)
				var apiErr *oa.Error
				if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
					t.Fatalf("openai-go error = %v, want *openai.Error 401", err)
				}
				// openai-go's equivalent of the other SDKs' err.requestID.
				checkIDs(t, apiErr.Response)
			})
			t.Run("unknown path", func(t *testing.T) {
				resp, err := hc.Get(c.url("eu-west-1") + "/no/such/path")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("status %d, want 404", resp.StatusCode)
				}
				checkIDs(t, resp)
			})
		})
	}
}

// TestClientListenerH2CUpgrade: a request asking for the deprecated
// "Upgrade: h2c" is answered over HTTP/1.1, which such clients accept.
func TestClientListenerH2CUpgrade(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "")
	conn, err := net.Dial("tcp", c.nodes["eu-west-1"].ClientAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard
	fmt.Fprintf(conn, "GET /v1/models HTTP/1.1\r\nHost: meridian\r\nAuthorization: Bearer %s\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n", c.key)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Proto != "HTTP/1.1" || resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("upgrade request answered %s %d, x-request-id %q; want HTTP/1.1 200 with an id", resp.Proto, resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
}

// TestCleartextProtocolsFollowGODEBUG: a plain client listener serves
// HTTP/1.1 always, and HTTP/2 with prior knowledge unless GODEBUG turns
// net/http's HTTP/2 server off; it never offers HTTP/2 over TLS, which it
// has not.
func TestCleartextProtocolsFollowGODEBUG(t *testing.T) {
	for _, tc := range []struct {
		godebug string
		h2c     bool
	}{
		{"", true},
		{"http2client=0", true},
		{"madvdontneed=1,http2server=0", false},
	} {
		t.Run(tc.godebug, func(t *testing.T) {
			t.Setenv("GODEBUG", tc.godebug)
			p := cleartextProtocols()
			if !p.HTTP1() || p.UnencryptedHTTP2() != tc.h2c || p.HTTP2() {
				t.Errorf("cleartextProtocols() = %v, want HTTP1 and, if %v, UnencryptedHTTP2", p, tc.h2c)
			}
		})
	}
}

// TestWithRequestID: whatever a handler does first (write the header,
// write the body, flush, nothing at all), the response carries
// x-request-id equal to x-meridian-request-id, and a x-request-id the
// handler copied from elsewhere (a backend's) does not survive.
func TestWithRequestID(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		wantID  string // "" for a fresh one
	}{
		{"front end id, WriteHeader", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Meridian-Request-Id", "req-1")
			w.WriteHeader(http.StatusTooManyRequests)
		}, "req-1"},
		{"front end id, Write", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Meridian-Request-Id", "req-2")
			w.Write([]byte("{}"))
		}, "req-2"},
		{"front end id, flush first", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Meridian-Request-Id", "req-3")
			if err := http.NewResponseController(w).Flush(); err != nil {
				t.Errorf("Flush through the wrapper: %v", err)
			}
		}, "req-3"},
		{"backend's x-request-id replaced", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Request-Id", "upstream-id")
			w.Header().Set("X-Meridian-Request-Id", "req-4")
			w.WriteHeader(http.StatusOK)
		}, "req-4"},
		{"no front end: unknown path", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, ""},
		{"handler writes nothing", func(w http.ResponseWriter, r *http.Request) {}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			withRequestID(tc.handler).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			got, meridian := rec.Result().Header.Get("X-Request-Id"), rec.Result().Header.Get("X-Meridian-Request-Id")
			if got == "" || got != meridian {
				t.Fatalf("x-request-id %q, x-meridian-request-id %q: want equal and set", got, meridian)
			}
			if tc.wantID != "" && got != tc.wantID {
				t.Errorf("x-request-id %q, want the front end's %q", got, tc.wantID)
			}
			if tc.wantID == "" && !strings.HasPrefix(got, "req-") {
				t.Errorf("fresh id %q, want a Meridian request id", got)
			}
		})
	}
}

// TestRequestIDStampAllocs: stamping a response whose front end set its
// id allocates nothing (x-request-id shares x-meridian-request-id's
// value), and an Add to x-request-id afterwards leaves the other alone.
func TestRequestIDStampAllocs(t *testing.T) {
	h := http.Header{"X-Meridian-Request-Id": {"req-1"}, "X-Request-Id": nil}
	w := &requestIDWriter{ResponseWriter: headerOnly(h)}
	if n := testing.AllocsPerRun(100, func() { w.stamped = false; w.stamp() }); n != 0 {
		t.Errorf("stamp: %v allocations, want 0", n)
	}
	h.Add("X-Request-Id", "extra")
	if got := h["X-Meridian-Request-Id"]; len(got) != 1 || got[0] != "req-1" {
		t.Errorf("x-meridian-request-id %q after an Add to x-request-id, want [req-1]", got)
	}
}

// headerOnly is a ResponseWriter of which stamp uses only the header.
type headerOnly http.Header

func (h headerOnly) Header() http.Header       { return http.Header(h) }
func (headerOnly) Write(p []byte) (int, error) { return len(p), nil }
func (headerOnly) WriteHeader(int)             {}
