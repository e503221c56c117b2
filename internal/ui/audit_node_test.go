package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/node/nodetest"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// startAuditedNode runs a real node of testdata/live/topology.yaml with an
// audit trail in dir and policies: app and other may invoke, ops may also
// see every principal's traffic (meridian:ViewTraffic), auditor is a
// viewer.
func startAuditedNode(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/live/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), "audit:\n  disabled: true", "audit:\n  dir: "+dir, 1))
	b = append(b, []byte(`
principals:
  - { id: app, api_keys: ["`+auth.HashKey("app-key")+`"], policies: [invoke] }
  - { id: other, api_keys: ["`+auth.HashKey("other-key")+`"], policies: [invoke] }
  - { id: ops, api_keys: ["`+auth.HashKey("ops-key")+`"], policies: [invoke, view-traffic] }
  - { id: auditor, viewer: true, api_keys: ["`+auth.HashKey("viewer-key")+`"] }
policies:
  invoke:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:*", Resource: "*" }]
  view-traffic:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "meridian:ViewTraffic", Resource: "arn:aws:meridian:*:111122223333:traffic/*" }]
`)...)
	cfg, err := topology.Parse(b, "testdata/live/topology.yaml + principals")
	if err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, node.Options{Config: cfg, Region: "eu-west-1", ClientListener: listen(t), LinkListener: listen(t), Dev: true})
	return "http://" + n.ClientAddr()
}

// noRedirects answers requests without following redirects.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func send(t *testing.T, ctx context.Context, method, url, key, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// auditEvent is what the tests read of an event.
type auditEvent struct {
	EventID      string `json:"eventId"`
	EventName    string `json:"eventName"`
	StatusCode   int    `json:"statusCode"`
	ErrorCode    string `json:"errorCode"`
	UserIdentity struct {
		PrincipalID string `json:"principalId"`
	} `json:"userIdentity"`
}

// eventsByID reads every event of region's trail under dir.
func eventsByID(t *testing.T, dir, region string) map[string][]auditEvent {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, region, "audit-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]auditEvent{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e auditEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out[e.EventID] = append(out[e.EventID], e)
		}
	}
	return out
}

// TestEveryAuthenticatedRequestIsAudited: requests that no API handler
// serves (an unknown operation, a wrong method, the mux's redirect to a
// cleaned path) and reads of the node's own views (a request record, the
// live stream, the regions view, metrics) each write one audit event when
// they authenticate, and so do their refusals for want of a valid key on
// a served route; anonymous requests to no route write none. Each answer
// names its event's id in x-meridian-request-id.
func TestEveryAuthenticatedRequestIsAudited(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := startAuditedNode(t, dir)
	resp := send(t, t.Context(), "POST", base+"/v1/chat/completions", "app-key",
		`{"model":"eu.demo.chat-small","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("chat completion = %d, want 200", resp.StatusCode)
	}
	served := resp.Header.Get("X-Meridian-Request-Id")

	tests := []struct {
		name, method, path, key string
		status                  int
		event                   string // "": no event
		principal               string
	}{
		{"unknown Bedrock operation", "POST", "/model/eu.demo.chat-small/Nothing", "app-key", 404, "UnknownOperation", "app"},
		{"unknown OpenAI path", "POST", "/v1/nothing", "app-key", 404, "UnknownOperation", "app"},
		{"unknown node path", "GET", "/meridian/v1/nothing", "app-key", 404, "UnknownOperation", "app"},
		{"wrong method", "GET", "/v1/chat/completions", "app-key", 405, "UnknownOperation", "app"},
		{"path-cleaning redirect", "POST", "//model/eu.demo.chat-small/converse", "app-key", 307, "Redirect", "app"},
		{"own request record", "GET", "/meridian/v1/requests/" + served, "app-key", 200, "GetRequest", "app"},
		{"another principal's record", "GET", "/meridian/v1/requests/" + served, "other-key", 404, "GetRequest", "other"},
		{"request record without a key", "GET", "/meridian/v1/requests/" + served, "", 401, "GetRequest", ""},
		{"live stream refused", "GET", "/meridian/v1/live", "other-key", 403, "StreamLive", "other"},
		{"regions view", "GET", "/meridian/v1/regions", "other-key", 200, "GetRegions", "other"},
		{"regions view without a key", "GET", "/meridian/v1/regions", "", 401, "GetRegions", ""},
		{"metrics", "GET", "/metrics", "auditor-nokey", 401, "GetMetrics", ""},
		{"metrics of a viewer", "GET", "/metrics", "viewer-key", 200, "GetMetrics", "auditor"},
		{"anonymous unknown path", "POST", "/v1/nothing", "", 404, "", ""},
		{"unknown path with a bad key", "GET", "/wp-login.php", "not-a-key", 404, "", ""},
		{"anonymous redirect", "GET", "//v1/models", "", 307, "", ""},
	}
	ids := make([]string, len(tests))
	for i, tc := range tests {
		resp := send(t, t.Context(), tc.method, base+tc.path, tc.key, "{}")
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %s %s = %d, want %d", tc.name, tc.method, tc.path, resp.StatusCode, tc.status)
		}
		ids[i] = resp.Header.Get("X-Meridian-Request-Id")
	}
	// The live stream, for a principal allowed to see it: recorded before
	// its first frame.
	ctx, cancel := context.WithCancel(t.Context())
	live := send(t, ctx, "GET", base+"/meridian/v1/live", "ops-key", "")
	liveID := live.Header.Get("X-Meridian-Request-Id")
	cancel()
	live.Body.Close()
	if live.StatusCode != 200 {
		t.Errorf("live stream for ops = %d, want 200", live.StatusCode)
	}

	events := eventsByID(t, dir, "eu-west-1")
	for i, tc := range tests {
		got := events[ids[i]]
		if tc.event == "" {
			if ids[i] != "" && len(got) != 0 {
				t.Errorf("%s: %d events for an anonymous request to no route, want none: %+v", tc.name, len(got), got)
			}
			continue
		}
		if ids[i] == "" || len(got) != 1 {
			t.Errorf("%s: request id %q has %d events, want 1", tc.name, ids[i], len(got))
			continue
		}
		if e := got[0]; e.EventName != tc.event || e.StatusCode != tc.status || e.UserIdentity.PrincipalID != tc.principal {
			t.Errorf("%s: event %+v, want %s, status %d, principal %q", tc.name, e, tc.event, tc.status, tc.principal)
		}
	}
	if got := events[liveID]; len(got) != 1 || got[0].EventName != "StreamLive" || got[0].StatusCode != 200 || got[0].UserIdentity.PrincipalID != "ops" {
		t.Errorf("live stream %q: events %+v, want one StreamLive 200 by ops", liveID, got)
	}
	if got := events[served]; len(got) != 1 {
		t.Errorf("the chat completion has %d events, want 1", len(got))
	}
}

// TestRequestRecordsArePrivate: with two API keys, a principal reads its
// own request's record, and another principal's request is answered as
// unknown unless the reader is a viewer or its policy allows
// meridian:ViewTraffic; the live stream (everyone's traffic) needs the
// same. No answer names the node's audit directory.
func TestRequestRecordsArePrivate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := startAuditedNode(t, dir)
	resp := send(t, t.Context(), "POST", base+"/v1/chat/completions", "app-key",
		`{"model":"eu.demo.chat-small","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`)
	resp.Body.Close()
	id := resp.Header.Get("X-Meridian-Request-Id")
	if resp.StatusCode != 200 || id == "" {
		t.Fatalf("chat completion = %d (id %q), want 200", resp.StatusCode, id)
	}
	tests := []struct {
		name, path, key string
		want            int
	}{
		{"own record", "/meridian/v1/requests/" + id, "app-key", 200},
		{"another principal's record", "/meridian/v1/requests/" + id, "other-key", 404},
		{"with meridian:ViewTraffic", "/meridian/v1/requests/" + id, "ops-key", 200},
		{"viewer", "/meridian/v1/requests/" + id, "viewer-key", 200},
		{"live stream without meridian:ViewTraffic", "/meridian/v1/live", "app-key", 403},
	}
	for _, tc := range tests {
		// A live stream that is (wrongly) served never ends: its body is
		// read only up to its first frame.
		ctx, cancel := context.WithCancel(t.Context())
		resp := send(t, ctx, "GET", base+tc.path, tc.key, "")
		var b []byte
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			b, _ = bufio.NewReader(resp.Body).ReadBytes('\n')
		} else {
			b, _ = io.ReadAll(resp.Body)
		}
		cancel()
		resp.Body.Close()
		body := string(b)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: GET %s = %d %s, want %d", tc.name, tc.path, resp.StatusCode, trim(body), tc.want)
		}
		if strings.Contains(body, dir) {
			t.Errorf("%s: the answer names the audit directory %s: %s", tc.name, dir, trim(body))
		}
		if tc.want == 404 && (strings.Contains(body, `"app"`) || strings.Contains(body, "key-")) {
			t.Errorf("%s: a refused read shows the owner: %s", tc.name, trim(body))
		}
	}
}
