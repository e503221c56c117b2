package gateway

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestNewCall: a call carries what the front door reads from the request.
func TestNewCall(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r := httptest.NewRequest(http.MethodPost, "/v1/messages", nil)
	r.RemoteAddr = "192.0.2.7:4321"
	r.Header.Set("User-Agent", "sdk/1.0")
	r.Header.Set(HeaderMaxQueueWait, "250ms")
	r.TLS = &tls.ConnectionState{}
	c := NewCall(r, OpChatCompletions, now)
	if c.RequestID == "" || c.Operation != OpChatCompletions || c.SourceIP != "192.0.2.7" || c.UserAgent != "sdk/1.0" ||
		!c.SecureTransport || !c.Received.Equal(now) || c.MaxQueueWait != 250*time.Millisecond {
		t.Errorf("NewCall = %+v, want a request id, %s, 192.0.2.7, sdk/1.0, TLS, %v, 250ms", c, OpChatCompletions, now)
	}
	if d := NewCall(httptest.NewRequest(http.MethodPost, "/", nil), "x", now); d.RequestID == c.RequestID || d.SecureTransport {
		t.Errorf("second NewCall = %+v, want a new request id and no TLS", d)
	}
}

// countingBody records whether a handler read the body.
type countingBody struct {
	io.Reader
	read bool
}

func (b *countingBody) Read(p []byte) (int, error) {
	b.read = true
	return b.Reader.Read(p)
}

func (b *countingBody) Close() error { return nil }

// TestReadAuthenticated: the body is read only once the caller is known,
// and within the limit.
func TestReadAuthenticated(t *testing.T) {
	t.Parallel()
	const key = "sk-front-door"
	// pathTopology, with an API key for principal p.
	keyed := strings.Replace(pathTopology, "{ id: p, ", fmt.Sprintf("{ id: p, api_keys: [%q], ", auth.HashKey(key)), 1)
	cfg, err := topology.Parse([]byte(keyed), "frontdoor.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Region: "eu-west-1", Config: cfg, Authorizer: AllowAll{}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, body string
		kind            inference.ErrorKind // 0: no error
		read            bool
	}{
		{"authenticated", key, `{"model":"m"}`, 0, true},
		{"no credentials", "", `{"model":"m"}`, inference.KindUnauthenticated, false},
		{"unknown key", "sk-other", `{"model":"m"}`, inference.KindUnauthenticated, false},
		{"body over the limit", key, strings.Repeat("x", 33), inference.KindPayloadTooLarge, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := &countingBody{Reader: strings.NewReader(tc.body)}
			r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", body)
			if tc.key != "" {
				r.Header.Set("Authorization", "Bearer "+tc.key)
			}
			call := NewCall(r, OpChatCompletions, time.Time{})
			got, e := g.ReadAuthenticated(httptest.NewRecorder(), r, call, 32)
			if body.read != tc.read {
				t.Errorf("ReadAuthenticated(%s) read the body: %v, want %v", tc.name, body.read, tc.read)
			}
			if tc.kind != 0 {
				if e == nil || e.Kind != tc.kind {
					t.Errorf("ReadAuthenticated(%s) = %q, %v, want kind %v", tc.name, got, e, tc.kind)
				}
				return
			}
			if e != nil || string(got) != tc.body || call.Principal.ID != "p" {
				t.Errorf("ReadAuthenticated(%s) = %q, %v, principal %q; want the body and principal p", tc.name, got, e, call.Principal.ID)
			}
		})
	}
}

// TestSetOutcomeHeaders: an answer carries the route's headers and the
// gateway's own.
func TestSetOutcomeHeaders(t *testing.T) {
	t.Parallel()
	out := &Outcome{Route: Route{RequestID: "req-1", SourceRegion: "eu-west-1", InferenceRegion: "eu-central-1", ProfileID: "eu.m", Reason: "nearest"},
		Header: http.Header{"X-Ratelimit-Limit-Requests": {"60"}, HeaderServiceTier: {"priority"}}}
	h := http.Header{}
	SetOutcomeHeaders(h, out)
	for k, want := range map[string]string{HeaderRequestID: "req-1", HeaderSourceRegion: "eu-west-1", HeaderInferenceRegion: "eu-central-1",
		HeaderInferenceProfile: "eu.m", HeaderRoute: "nearest", "X-Ratelimit-Limit-Requests": "60", HeaderServiceTier: "priority"} {
		if got := h.Get(k); got != want {
			t.Errorf("SetOutcomeHeaders: %s = %q, want %q", k, got, want)
		}
	}
}

// TestDeploymentKey: the quota key of this region's deployment of a model
// is "region/model", formatted once for the deployments the topology has
// here (no allocation per request) and on demand for any other model.
func TestDeploymentKey(t *testing.T) {
	cfg, err := topology.Parse([]byte(pathTopology), "path.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Region: "eu-west-1", Config: cfg, Authorizer: AllowAll{}})
	if err != nil {
		t.Fatal(err)
	}
	for model, want := range map[string]string{"m": "eu-west-1/m", "c": "eu-west-1/c", "r": "eu-west-1/r"} {
		if got := g.deploymentKey(model); got != want {
			t.Errorf("deploymentKey(%s) = %q, want %q", model, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { g.deploymentKey("m") }); n != 0 {
		t.Errorf("deploymentKey of a deployment here: %v allocations, want 0", n)
	}
}

// TestNewCallClipsUserAgent: a request's record keeps at most MaxUserAgent
// bytes of the caller's User-Agent, with a marker of what was left out, so
// that a header of the listener's full size does not grow each audit
// event by megabytes; a usual one is kept whole.
func TestNewCallClipsUserAgent(t *testing.T) {
	for _, tc := range []struct {
		name, ua string
		whole    bool
	}{
		{"usual", "openai-go/3.9 (linux; amd64)", true},
		{"at the bound", strings.Repeat("a", MaxUserAgent), true},
		{"huge", strings.Repeat("<", 900<<10), false},
		{"huge multibyte", strings.Repeat("é", MaxUserAgent), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/chat/completions", nil)
			r.Header.Set("User-Agent", tc.ua)
			got := NewCall(r, "ChatCompletions", time.Unix(0, 0)).UserAgent
			if tc.whole {
				if got != tc.ua {
					t.Errorf("UserAgent = %q, want it whole", got)
				}
				return
			}
			if len(got) > MaxUserAgent+32 || !strings.HasPrefix(tc.ua, got[:strings.Index(got, "…[")]) || !strings.Contains(got, "more bytes]") || !utf8.ValidString(got) {
				t.Errorf("UserAgent = %d bytes %.40q…, want at most %d of the caller's, valid UTF-8, and a marker", len(got), got, MaxUserAgent)
			}
		})
	}
}
