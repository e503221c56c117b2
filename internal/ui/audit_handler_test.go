package ui_test

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/ui"
)

// calls collects what Options.Audit was asked to record.
type calls struct {
	mu   sync.Mutex
	got  []ui.Call
	fail bool
}

func (c *calls) record(w http.ResponseWriter, _ *http.Request, call ui.Call) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, call)
	if c.fail {
		return errors.New("disk full")
	}
	w.Header().Set("X-Meridian-Request-Id", "req-recorded")
	return nil
}

func (c *calls) take() []ui.Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.got
	c.got = nil
	return out
}

// TestConsoleCallsAreRecordedOnce: each console API call is handed to
// Options.Audit exactly once, before its answer, with who asked (none for
// a 401), the status answered and a 403's reason; a principal other than
// the record's owner that MaySee refuses gets the unknown record's 404; a
// call that cannot be recorded is answered 503.
func TestConsoleCallsAreRecordedOnce(t *testing.T) {
	t.Parallel()
	live := newLive(t, "eu-west-1", nil, 0)
	record(t, live, rec("req-1", "source", "eu-west-1", "eu-west-1", "eu.demo.chat-small")) // by demo-user
	rc := &calls{}
	// The operator may see demo-user's traffic but not everyone's.
	maySee := func(_ *http.Request, p auth.Principal, owner string) bool { return p.Viewer || owner == "demo-user" }
	dm := &fakeDemo{actions: map[string]ui.Action{"us-east-1": ui.ActionRestore}}
	srv := newServer(t, ui.Options{Live: live, Demo: dm, Audit: rc.record, MaySee: maySee})

	tests := []struct {
		name, method, path, key, body string
		status                        int
		op                            string
		principal                     string // "": none
	}{
		{"live without a key", "GET", "/meridian/v1/live", "", "", 401, ui.OpStreamLive, ""},
		{"live refused", "GET", "/meridian/v1/live", "operator-key", "", 403, ui.OpStreamLive, "operator"},
		{"record allowed", "GET", "/meridian/v1/requests/req-1", "operator-key", "", 200, ui.OpGetRequest, "operator"},
		{"record with a bad key", "GET", "/meridian/v1/requests/req-1", "nope", "", 401, ui.OpGetRequest, ""},
		{"unknown record", "GET", "/meridian/v1/requests/req-2", "viewer-key", "", 404, ui.OpGetRequest, "auditor"},
		{"operator action", "POST", "/meridian/v1/demo/regions/us-east-1", "operator-key", `{"action":"down"}`, 200, ui.OpOperateRegion, "operator"},
		{"viewer may not act", "POST", "/meridian/v1/demo/regions/us-east-1", "viewer-key", `{"action":"down"}`, 403, ui.OpOperateRegion, "auditor"},
		{"unknown region", "POST", "/meridian/v1/demo/regions/mars-1", "operator-key", `{"action":"down"}`, 404, ui.OpOperateRegion, "operator"},
		{"malformed action", "POST", "/meridian/v1/demo/regions/us-east-1", "operator-key", `down`, 400, ui.OpOperateRegion, "operator"},
	}
	for _, tc := range tests {
		resp, body := do(t, tc.method, srv.URL+tc.path, tc.key, tc.body)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, trim(body), tc.status)
		}
		if id := resp.Header.Get("X-Meridian-Request-Id"); id != "req-recorded" {
			t.Errorf("%s: x-meridian-request-id %q, want the recorder's", tc.name, id)
		}
		got := rc.take()
		if len(got) != 1 {
			t.Errorf("%s: %d calls recorded, want 1: %+v", tc.name, len(got), got)
			continue
		}
		c := got[0]
		who := ""
		if c.Principal != nil {
			who = c.Principal.ID
		}
		if c.Operation != tc.op || c.Status != tc.status || who != tc.principal || (tc.status == 403) != (c.Reason != "") {
			t.Errorf("%s: recorded %+v (principal %q), want %s %d by %q", tc.name, c, who, tc.op, tc.status, tc.principal)
		}
	}

	// Refused for another principal's record: answered as unknown.
	rc2 := &calls{}
	other := newServer(t, ui.Options{Live: live, Audit: rc2.record, MaySee: func(*http.Request, auth.Principal, string) bool { return false }})
	resp, body := do(t, "GET", other.URL+"/meridian/v1/requests/req-1", "operator-key", "")
	if resp.StatusCode != 404 || strings.Contains(body, "demo-user") {
		t.Errorf("another principal's record = %d %s, want 404 without its owner", resp.StatusCode, trim(body))
	}
	if got := rc2.take(); len(got) != 1 || got[0].Status != 404 {
		t.Errorf("recorded %+v, want one 404", got)
	}

	rc.mu.Lock()
	rc.fail = true
	rc.mu.Unlock()
	resp, body = do(t, "GET", srv.URL+"/meridian/v1/requests/req-1", "viewer-key", "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "audit trail") || strings.Contains(body, "req-1\"") {
		t.Errorf("a call that cannot be recorded = %d %s, want 503 naming the audit trail, without the record", resp.StatusCode, trim(body))
	}
}
