package ui_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/node/nodetest"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// grantsConfig is testdata/live/topology.yaml with an audit trail in dir
// and the principals and policies given (YAML).
func grantsConfig(t *testing.T, dir, principals string) *topology.Config {
	t.Helper()
	b, err := os.ReadFile("testdata/live/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b = []byte(strings.Replace(string(b), "audit:\n  disabled: true", "audit:\n  dir: "+dir, 1))
	cfg, err := topology.Parse(append(b, principals...), "testdata/live/topology.yaml + principals")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// viewGrant is a policy allowing (or denying) meridian:ViewTraffic on the
// traffic of owner pattern.
func viewGrant(effect, owner string) string {
	return `{ Effect: ` + effect + `, Action: "meridian:ViewTraffic", Resource: "arn:aws:meridian:*:111122223333:traffic/` + owner + `" }`
}

// firstFrame opens the live stream with key and returns its status and
// first frame's data (status 200 only).
func firstFrame(t *testing.T, base, key string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	resp := send(t, ctx, "GET", base+"/meridian/v1/live", key, "")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, ""
	}
	br := bufio.NewReader(resp.Body)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("live stream ended before a frame: %v", err)
		}
		if d, ok := strings.CutPrefix(l, "data: "); ok {
			return resp.StatusCode, d
		}
	}
}

// TestLiveFramesKeepToWhatTheReaderMaySee: the live stream's recent
// requests are those of owners the reader may see (a Deny of one owner's
// traffic holds there as on the request record), and a grant written for
// some owners (traffic/?, traffic/??, traffic/a*) does not open the
// stream, which counts every principal's requests.
func TestLiveFramesKeepToWhatTheReaderMaySee(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := grantsConfig(t, dir, `
principals:
  - { id: app, api_keys: ["`+auth.HashKey("app-key")+`"], policies: [invoke] }
  - { id: ops, api_keys: ["`+auth.HashKey("ops-key")+`"], policies: [invoke, all-but-app] }
  - { id: everyone, api_keys: ["`+auth.HashKey("all-key")+`"], policies: [all] }
  - { id: q1, api_keys: ["`+auth.HashKey("q1-key")+`"], policies: [one-char] }
  - { id: q2, api_keys: ["`+auth.HashKey("q2-key")+`"], policies: [two-char] }
  - { id: q3, api_keys: ["`+auth.HashKey("q3-key")+`"], policies: [a-star] }
policies:
  invoke:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:*", Resource: "*" }]
  all-but-app:
    Version: "2012-10-17"
    Statement: [`+viewGrant("Allow", "*")+`, `+viewGrant("Deny", "app")+`]
  all:
    Version: "2012-10-17"
    Statement: [`+viewGrant("Allow", "*")+`]
  one-char:
    Version: "2012-10-17"
    Statement: [`+viewGrant("Allow", "?")+`]
  two-char:
    Version: "2012-10-17"
    Statement: [`+viewGrant("Allow", "??")+`]
  a-star:
    Version: "2012-10-17"
    Statement: [`+viewGrant("Allow", "a*")+`]
`)
	n := nodetest.Start(t, node.Options{Config: cfg, Region: "eu-west-1", ClientListener: listen(t), LinkListener: listen(t), Dev: true})
	base := "http://" + n.ClientAddr()
	ids := map[string]string{}
	for _, who := range []string{"app", "ops"} {
		resp := send(t, t.Context(), "POST", base+"/v1/chat/completions", who+"-key",
			`{"model":"eu.demo.chat-small","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`)
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s's chat completion = %d, want 200", who, resp.StatusCode)
		}
		ids[who] = resp.Header.Get("x-meridian-request-id")
	}
	for _, tc := range []struct {
		key     string
		status  int
		sees    []string
		notSees []string
	}{
		{key: "ops-key", status: 200, sees: []string{"ops"}, notSees: []string{"app"}},
		{key: "all-key", status: 200, sees: []string{"ops", "app"}},
		{key: "q1-key", status: 403},
		{key: "q2-key", status: 403},
		{key: "q3-key", status: 403},
	} {
		status, frame := firstFrame(t, base, tc.key)
		if status != tc.status {
			t.Errorf("live stream with %s = %d, want %d", tc.key, status, tc.status)
			continue
		}
		for _, who := range tc.sees {
			if !strings.Contains(frame, ids[who]) {
				t.Errorf("live frame for %s lacks %s's request %s", tc.key, who, ids[who])
			}
		}
		for _, who := range tc.notSees {
			if strings.Contains(frame, ids[who]) || strings.Contains(frame, `"principal":"`+who+`"`) {
				t.Errorf("live frame for %s shows %s's request, which a Deny hides from it", tc.key, who)
			}
		}
	}
}

// TestLiveEndsWhenAReloadRevokes: an open live stream is decided again
// before each frame against the topology in force, so a reload that
// rotates the reader's key, or takes its grant away, ends it (the console
// reconnects); a reload that changes neither leaves it open.
func TestLiveEndsWhenAReloadRevokes(t *testing.T) {
	t.Parallel()
	mk := func(dir, opsKey, opsPolicies string) *topology.Config {
		return grantsConfig(t, dir, `
principals:
  - { id: app, api_keys: ["`+auth.HashKey("app-key")+`"], policies: [invoke] }
  - { id: ops, api_keys: ["`+auth.HashKey(opsKey)+`"], policies: [`+opsPolicies+`] }
policies:
  invoke:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:*", Resource: "*" }]
  view:
    Version: "2012-10-17"
    Statement: [`+viewGrant("Allow", "*")+`]
`)
	}
	for _, tc := range []struct {
		name        string
		key, policy string
		ends        bool
	}{
		{name: "key rotated", key: "rotated-key", policy: "invoke, view", ends: true},
		{name: "grant removed", key: "ops-key", policy: "invoke", ends: true},
		{name: "unchanged", key: "ops-key", policy: "invoke, view", ends: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			n := nodetest.Start(t, node.Options{Config: mk(dir, "ops-key", "invoke, view"), Region: "eu-west-1", ClientListener: listen(t), LinkListener: listen(t), Dev: true})
			base := "http://" + n.ClientAddr()
			// A hang guard only: the stream ends at its next frame.
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			live := send(t, ctx, "GET", base+"/meridian/v1/live", "ops-key", "")
			defer live.Body.Close()
			if live.StatusCode != http.StatusOK {
				t.Fatalf("live stream = %d, want 200", live.StatusCode)
			}
			br := bufio.NewReader(live.Body)
			frames := func(k int) error {
				for k > 0 {
					l, err := br.ReadString('\n')
					if err != nil {
						return err
					}
					if strings.HasPrefix(l, "data: ") {
						k--
					}
				}
				return nil
			}
			if err := frames(1); err != nil {
				t.Fatal(err)
			}
			if err := n.Reload(mk(dir, tc.key, tc.policy)); err != nil {
				t.Fatal(err)
			}
			if tc.ends {
				if _, err := io.Copy(io.Discard, br); err != nil {
					t.Fatalf("live stream after the reload: %v, want its end", err)
				}
				return
			}
			if err := frames(2); err != nil {
				t.Fatalf("live stream after a reload that revoked nothing: %v, want frames", err)
			}
		})
	}
}

// rawEvents reads every event of region's trail under dir as JSON objects.
func rawEvents(t *testing.T, dir, region string) []map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, region, "audit-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var e map[string]any
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			out = append(out, e)
		}
	}
	return out
}

// rawRequest writes req on a new connection to addr and returns the
// answer's status line.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute)) // a hang guard only
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(l)
}

// TestControlEventsSayWhatWasAsked: a GetRequest event names the request
// id read, an UnknownOperation or Redirect event the method and path
// (without the query), each clipped and in the characters request metadata
// may hold; "GET *", which the mux answers 400, is not recorded as a
// redirect it never was.
func TestControlEventsSayWhatWasAsked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := startAuditedNode(t, dir)
	addr := strings.TrimPrefix(base, "http://")
	long := "/" + strings.Repeat("a", 1000)
	asked := map[string]map[string]string{}
	for _, tc := range []struct {
		method, path string
		want         map[string]string
	}{
		{"GET", "/meridian/v1/requests/no-such-id", map[string]string{"requestId": "no-such-id"}},
		{"GET", "/nope?secret=1", map[string]string{"method": "GET", "path": "/nope"}},
		{"DELETE", "/a//b", map[string]string{"method": "DELETE", "path": "/a//b"}},
		{"GET", "/x%2Ay", map[string]string{"method": "GET", "path": "/x$252Ay"}},
		{"GET", long, map[string]string{"method": "GET", "path": long[:253] + "..."}},
	} {
		resp := send(t, t.Context(), tc.method, base+tc.path, "app-key", "")
		resp.Body.Close()
		id := resp.Header.Get("x-meridian-request-id")
		if id == "" {
			t.Errorf("%s %.40s = %d without a request id", tc.method, tc.path, resp.StatusCode)
			continue
		}
		asked[id] = tc.want
	}
	if got := rawRequest(t, addr, "GET * HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer app-key\r\n\r\n"); !strings.Contains(got, " 400 ") {
		t.Errorf("GET * = %q, want 400", got)
	}
	for _, e := range rawEvents(t, dir, "eu-west-1") {
		md, _ := e["requestMetadata"].(map[string]any)
		if e["eventName"] == "Redirect" && md["path"] == "$2A" {
			t.Errorf("GET * (answered 400) recorded as a redirect: %v", e)
		}
		want, ok := asked[e["eventId"].(string)]
		if !ok {
			continue
		}
		delete(asked, e["eventId"].(string))
		if fmt.Sprint(md) != fmt.Sprint(want) {
			t.Errorf("%s event's requestMetadata = %v, want %v", e["eventName"], md, want)
		}
	}
	for id := range asked {
		t.Errorf("no event %s in the trail", id)
	}
}
