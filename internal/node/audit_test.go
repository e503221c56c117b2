package node

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestAuditRecordsWhereInferenceRan sends allowed, denied, throttled and
// failed-over requests and finds exactly one source-side event per request
// with the right regions, and a destination-side event for each forwarded
// one; the log verifies.
func TestAuditRecordsWhereInferenceRan(t *testing.T) {
	denied, _ := auth.NewKey()
	extra := fmt.Sprintf(`  - {id: nobody, api_keys: [%q], policies: [list-only]}
policies:
  list-only:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*" }]
  invoke-all:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:Invoke*", Resource: "*" }]
`, auth.HashKey(denied))
	// The default tester principal gets invoke-all.
	c := startCluster(t, threeRegions, extra, withTesterPolicies("invoke-all"))
	type sent struct {
		id, source   string
		status       int
		wantRegion   string // "" when nothing ran
		wantForward  bool
		wantAttempts int
	}
	var reqs []sent
	send := func(source, model, key string, stream bool) (int, string, string) {
		status, h, _ := c.post(source, chatBody(model, stream), key)
		return status, h.Get("X-Meridian-Request-Id"), h.Get("X-Meridian-Inference-Region")
	}
	// Allowed, local and forwarded.
	st, id, region := send("eu-west-1", "eu.demo.chat-small", c.key, false)
	reqs = append(reqs, sent{id, "eu-west-1", st, region, region != "eu-west-1", 1})
	st, id, region = send("us-east-1", "global.demo.chat-small", c.key, true)
	reqs = append(reqs, sent{id, "us-east-1", st, region, region != "us-east-1", 1})
	// Denied by policy.
	st, id, _ = send("eu-west-1", "eu.demo.chat-small", denied, false)
	reqs = append(reqs, sent{id, "eu-west-1", st, "", false, 0})
	// Rejected before authentication.
	st, id, _ = send("eu-west-1", "eu.demo.chat-small", "mk-wrong", false)
	reqs = append(reqs, sent{id, "eu-west-1", st, "", false, 0})
	// Failed over: the source region throttles, eu-central-1 serves.
	c.mocks["eu-west-1"].SetThrottled(30 * time.Second)
	st, id, region = send("eu-west-1", "eu.demo.chat-small", c.key, false)
	reqs = append(reqs, sent{id, "eu-west-1", st, region, true, 2})
	// Throttled everywhere in the geography: nothing ran.
	c.mocks["eu-central-1"].SetThrottled(30 * time.Second)
	st, id, _ = send("eu-central-1", "eu.demo.chat-small", c.key, false)
	reqs = append(reqs, sent{id, "eu-central-1", st, "", false, -1})

	wantStatus := []int{200, 200, 403, 401, 200, 429}
	for i, r := range reqs {
		if r.status != wantStatus[i] || r.id == "" {
			t.Fatalf("request %d: status %d id %q, want %d", i, r.status, r.id, wantStatus[i])
		}
	}
	// Close the nodes so that every event is flushed with a final digest.
	c.shutdown()

	events := map[string][]*audit.Event{}
	if err := audit.Query(c.auditDir, audit.Filter{}, func(e *audit.Event) error {
		events[e.EventID] = append(events[e.EventID], e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, r := range reqs {
		var src, dst []*audit.Event
		for _, e := range events[r.id] {
			if e.Side == audit.SideSource {
				src = append(src, e)
			} else {
				dst = append(dst, e)
			}
		}
		if len(src) != 1 {
			t.Errorf("request %d (%s): %d source-side events, want exactly 1", i, r.id, len(src))
			continue
		}
		e := src[0]
		if e.SourceRegion != r.source || e.RecordingRegion != r.source || e.InferenceRegion != r.wantRegion || e.StatusCode != r.status {
			t.Errorf("request %d: event source %s recorded in %s inference %q status %d, want %s, %s, %q, %d",
				i, e.SourceRegion, e.RecordingRegion, e.InferenceRegion, e.StatusCode, r.source, r.source, r.wantRegion, r.status)
		}
		if r.wantAttempts >= 0 && len(e.Attempts) != r.wantAttempts {
			t.Errorf("request %d: %d attempts %+v, want %d", i, len(e.Attempts), e.Attempts, r.wantAttempts)
		}
		if r.status == 403 && (e.Decision.Allowed || e.Decision.Reason == "") {
			t.Errorf("denied request %d: decision %+v", i, e.Decision)
		}
		forwardedServed := 0
		for _, d := range dst {
			if d.InferenceRegion != "" {
				forwardedServed++
				if d.RecordingRegion != d.InferenceRegion || d.SourceRegion != r.source {
					t.Errorf("request %d: destination event %+v", i, d)
				}
			}
		}
		if r.wantForward && forwardedServed != 1 {
			t.Errorf("request %d forwarded to %s: %d serving destination events, want 1", i, r.wantRegion, forwardedServed)
		}
		if !r.wantForward && r.wantRegion != "" && len(dst) != 0 {
			t.Errorf("request %d served locally has %d destination events", i, len(dst))
		}
	}
	// Each region's log verifies with its own public key.
	for _, region := range []string{"us-east-1", "eu-west-1", "eu-central-1"} {
		dir := filepath.Join(c.auditDir, region)
		pub, err := audit.ReadPublicKey(filepath.Join(c.auditDir, "audit-key.pub"))
		if err != nil {
			t.Fatalf("public key: %v", err)
		}
		rep, err := audit.Verify(dir, pub)
		if err != nil {
			t.Errorf("verify %s: %v", region, err)
			continue
		}
		if rep.Events == 0 || rep.Digests == 0 {
			t.Errorf("verify %s: %+v, want events covered by digests", region, rep)
		}
	}
}

// fullDisk is the real file system with a switch that fills it: writes
// fail with ENOSPC, as on a full audit volume.
type fullDisk struct {
	audit.OSFS
	full atomic.Bool
}

func (d *fullDisk) OpenFile(name string, flag int, perm fs.FileMode) (audit.File, error) {
	f, err := d.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return fullDiskFile{f, d}, nil
}

type fullDiskFile struct {
	audit.File
	d *fullDisk
}

func (f fullDiskFile) Write(p []byte) (int, error) {
	if f.d.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.Write(p)
}

// TestAuditFullDiskRefusesThenRecovers: with the audit volume full, the
// node answers no request it cannot record: a request admitted just before
// the failure was known gets 503 instead of its body, later ones (streams
// too) 503 with Retry-After, /readyz says 503 naming the audit trail, and
// the gauge shows it. Once the disk has room the node serves again, and
// verify reports the gap with the requests it lost.
func TestAuditFullDiskRefusesThenRecovers(t *testing.T) {
	dir := t.TempDir()
	key, _ := auth.NewKey()
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg, err := topology.Parse([]byte(fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
audit: { dir: %q }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: %q, link: %q }
models: [ { id: demo.chat-small } ]
deployments: [ { model: demo.chat-small, region: eu-west-1, backend: { type: mock, tokens_per_second: 0 } } ]
principals: [ { id: tester, api_keys: [%q] } ]
`, filepath.Join(dir, "audit"), cl.Addr(), ll.Addr(), auth.HashKey(key))), "full-disk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	disk := &fullDisk{}
	clk := clock.NewManual(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll, AuditOptions: audit.Options{Clock: clk, FS: disk}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	url := "http://" + n.ClientAddr()
	get := func(path string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, url+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key) // /metrics needs a principal
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	send := func(stream bool) (int, http.Header, []byte) {
		return postTo(t, url, key, chatBody("eu.demo.chat-small", stream))
	}
	if st, _, body := send(false); st != 200 {
		t.Fatalf("before the disk filled: %d %s", st, body)
	}

	disk.full.Store(true)
	var refused []string
	for i, stream := range []bool{false, false, true} {
		st, h, body := send(stream)
		if st != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || !strings.Contains(string(body), "audit trail") {
			t.Errorf("request %d (stream %v) on a full audit disk: %d, Retry-After %q, %s; want 503 with Retry-After naming the audit trail", i, stream, st, h.Get("Retry-After"), body)
		}
		refused = append(refused, h.Get("X-Meridian-Request-Id"))
	}
	if st, body := get("/readyz"); st != http.StatusServiceUnavailable || !strings.Contains(body, "audit") {
		t.Errorf("/readyz on a full audit disk = %d %q, want 503 naming the audit trail", st, body)
	}
	// The ops listener's metrics stay readable; the client listener's
	// /metrics is a request like any other: it cannot be recorded, so it
	// is refused, and counted lost.
	ops := httptest.NewRecorder()
	n.opsHandler().ServeHTTP(ops, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if m := ops.Body.String(); !strings.Contains(m, `meridian_audit_available{region="eu-west-1"} 0`) {
		t.Error("metrics do not show meridian_audit_available 0 during the outage")
	}
	mreq, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	mreq.Header.Set("Authorization", "Bearer "+key)
	if resp, err := http.DefaultClient.Do(mreq); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("client listener's /metrics during the outage = %d, want 503 (it cannot be recorded)", resp.StatusCode)
		}
		refused = append(refused, resp.Header.Get("X-Meridian-Request-Id"))
	}

	disk.full.Store(false)
	// The writer's next probe is due; the digest below comes after the
	// writer has taken the tick.
	if err := clk.AdvanceAndWait(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := n.audit.Digest(t.Context()); err != nil {
		t.Fatalf("after the disk recovered: %v", err)
	}
	if st, body := get("/readyz"); st != 200 {
		t.Errorf("/readyz after recovery = %d %q, want 200", st, body)
	}
	for _, stream := range []bool{false, true} {
		if st, _, body := send(stream); st != 200 {
			t.Errorf("after recovery (stream %v): %d %s, want 200", stream, st, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	rep, err := audit.Verify(filepath.Join(dir, "audit", "eu-west-1"), n.audit.PublicKey())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(rep.Gaps) != 1 || rep.Complete() {
		t.Fatalf("verify reports %d gaps (complete %v), want the outage's gap", len(rep.Gaps), rep.Complete())
	}
	g := rep.Gaps[0]
	if g.Gap.LostEvents != int64(len(refused)) {
		t.Errorf("gap %s counts %d lost requests, want the %d refused", g, g.Gap.LostEvents, len(refused))
	}
	for _, id := range refused {
		if !slices.Contains(g.Gap.LostEventIDs, id) {
			t.Errorf("gap does not name refused request %s: %s", id, g)
		}
	}
	if rep.Events != 1+1+2 { // before, the marker, after
		t.Errorf("log holds %d events, want 4", rep.Events)
	}
}
