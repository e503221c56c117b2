package node

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
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
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n.Shutdown(ctx)
		})
	}
	wg.Wait()

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
