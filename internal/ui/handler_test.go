package ui_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/ui"
)

// keys authenticates two fixed API keys: an operator and a viewer.
type keys struct{}

func (keys) APIKey(key string) (auth.Principal, error) {
	switch key {
	case "operator-key":
		return auth.Principal{ID: "operator", Method: auth.MethodAPIKey}, nil
	case "viewer-key":
		return auth.Principal{ID: "auditor", Viewer: true, Method: auth.MethodAPIKey}, nil
	case "":
		return auth.Principal{}, auth.ErrMissingCredentials
	}
	return auth.Principal{}, auth.ErrInvalidCredentials
}

// fakeDemo records operator actions.
type fakeDemo struct {
	mu      sync.Mutex
	actions map[string]ui.Action
}

func (d *fakeDemo) Operate(region string, a ui.Action) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.actions[region]; !ok {
		return fmt.Errorf("region %q: %w", region, ui.ErrUnknownRegion)
	}
	d.actions[region] = a
	return nil
}

func (d *fakeDemo) Actions() map[string]ui.Action {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]ui.Action{}
	for k, v := range d.actions {
		out[k] = v
	}
	return out
}

func newServer(t *testing.T, opts ui.Options) *httptest.Server {
	t.Helper()
	if opts.Live == nil {
		opts.Live = newLive(t, "eu-west-1", nil, 0)
	}
	opts.Auth = keys{}
	opts.State = func() any { return map[string]any{"region": "eu-west-1", "regions": []any{}} }
	mux := http.NewServeMux()
	ui.NewHandler(opts).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, method, url, key, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestConsoleEndpoints(t *testing.T) {
	t.Parallel()
	live := newLive(t, "eu-west-1", nil, 0)
	r := rec("req-1", "source", "eu-west-1", "eu-central-1", "eu.demo.chat-small")
	r.Route = "failover:throttled:eu-west-1"
	r.Attempts = append(r.Attempts[:0:0], attempt("eu-west-1", "throttled", 429), r.Attempts[0])
	record(t, live, r)
	dm := &fakeDemo{actions: map[string]ui.Action{"us-east-1": ui.ActionRestore}}
	demoSrv := newServer(t, ui.Options{Live: live, Demo: dm})
	plainSrv := newServer(t, ui.Options{Live: live})

	tests := []struct {
		name, method, url, key, body string
		want                         int
		contains                     string
	}{
		{"console page needs no key", "GET", demoSrv.URL + "/ui/", "", "", 200, "<title>Meridian console</title>"},
		{"console script", "GET", demoSrv.URL + "/ui/app.js", "", "", 200, "/meridian/v1/live"},
		{"console coastlines", "GET", demoSrv.URL + "/ui/world.js", "", "", 200, "MERIDIAN_WORLD"},
		{"console without slash", "GET", demoSrv.URL + "/ui", "", "", 200, "<title>Meridian console</title>"},
		{"live without a key", "GET", demoSrv.URL + "/meridian/v1/live", "", "", 401, "API key"},
		{"live with a wrong key", "GET", demoSrv.URL + "/meridian/v1/live", "nope", "", 401, "API key"},
		{"record for a viewer", "GET", demoSrv.URL + "/meridian/v1/requests/req-1", "viewer-key", "", 200, `"eventId":"req-1"`},
		{"record's attempts", "GET", demoSrv.URL + "/meridian/v1/requests/req-1", "viewer-key", "", 200, `"outcome":"throttled"`},
		{"record without a key", "GET", demoSrv.URL + "/meridian/v1/requests/req-1", "", "", 401, ""},
		{"unknown record", "GET", demoSrv.URL + "/meridian/v1/requests/req-2", "viewer-key", "", 404, "not among"},
		{"operator action", "POST", demoSrv.URL + "/meridian/v1/demo/regions/us-east-1", "operator-key", `{"action":"down"}`, 200, `"state":"down"`},
		{"viewers may not act", "POST", demoSrv.URL + "/meridian/v1/demo/regions/us-east-1", "viewer-key", `{"action":"restore"}`, 403, "viewers"},
		{"unknown action", "POST", demoSrv.URL + "/meridian/v1/demo/regions/us-east-1", "operator-key", `{"action":"explode"}`, 400, "unknown action"},
		{"malformed body", "POST", demoSrv.URL + "/meridian/v1/demo/regions/us-east-1", "operator-key", `down`, 400, "JSON"},
		{"unknown region", "POST", demoSrv.URL + "/meridian/v1/demo/regions/mars-1", "operator-key", `{"action":"down"}`, 404, "unknown region"},
		{"no operator actions outside the demo", "POST", plainSrv.URL + "/meridian/v1/demo/regions/us-east-1", "operator-key", `{"action":"down"}`, 404, "only in"},
	}
	for _, tc := range tests {
		// Sequential: the operator cases change the fake demo's state.
		resp, body := do(t, tc.method, tc.url, tc.key, tc.body)
		if resp.StatusCode != tc.want || !strings.Contains(body, tc.contains) {
			t.Errorf("%s: %s %s = %d %q, want %d containing %q", tc.name, tc.method, tc.url, resp.StatusCode, trim(body), tc.want, tc.contains)
		}
	}
	if got := dm.Actions()["us-east-1"]; got != ui.ActionDown {
		t.Errorf("after the operator action: us-east-1 is %v, want down", got)
	}
	resp, _ := do(t, "GET", demoSrv.URL+"/ui/", "", "")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("GET /ui/: Content-Security-Policy = %q, want default-src 'self'", csp)
	}
	_, body := do(t, "GET", demoSrv.URL+"/meridian/v1/requests/req-1", "viewer-key", "")
	var view ui.RequestView
	if err := json.Unmarshal([]byte(body), &view); err != nil {
		t.Fatal(err)
	}
	if view.AuditEvent.RouteReason != r.Route || view.AuditEvent.InferenceRegion != "eu-central-1" || len(view.Attempts) != 2 || view.AuditEvent.Content != nil {
		t.Errorf("request view = %+v, want route %q, inference region eu-central-1, 2 attempts, no content", view, r.Route)
	}
}

func TestLiveStream(t *testing.T) {
	t.Parallel()
	var closing atomic.Bool
	dm := &fakeDemo{actions: map[string]ui.Action{"us-east-1": ui.ActionThrottle}}
	srv := newServer(t, ui.Options{Demo: dm, Interval: 20 * time.Millisecond, Closing: closing.Load})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/meridian/v1/live", nil)
	req.Header.Set("Authorization", "Bearer viewer-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("GET /meridian/v1/live = %d %s, want 200 text/event-stream", resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	frames := 0
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var f ui.Frame
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			t.Fatalf("frame %d: %v", frames, err)
		}
		if f.Region != "eu-west-1" || f.Demo["us-east-1"] != ui.ActionThrottle {
			t.Fatalf("frame %d: region %q demo %v, want eu-west-1 with us-east-1 throttled", frames, f.Region, f.Demo)
		}
		frames++
		if frames == 2 {
			closing.Store(true) // the node drains: the stream must end
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read stream: %v", err)
	}
	if frames < 2 {
		t.Errorf("got %d frames, want at least 2 before the stream ended", frames)
	}
}

func trim(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
