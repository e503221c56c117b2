package node

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/meridian-gateway/meridian/internal/topology"
)

// reloadYAML makes eu.demo.chat-small spread over both EU regions, so that a
// change of its destinations is visible in where requests run.
const reloadYAML = "routing: {profiles: {eu.demo.chat-small: {strategy: weighted, weights: {eu-west-1: 1, eu-central-1: 1}}}}\n"

// withoutDeployment returns a copy of cfg without region's deployment and
// with the extra application profiles.
func withoutDeployment(cfg *topology.Config, region string, apps ...topology.ApplicationProfile) *topology.Config {
	c := *cfg
	c.Deployments = slices.DeleteFunc(slices.Clone(cfg.Deployments), func(d topology.Deployment) bool { return d.Region == region })
	c.Profiles.Application = append(slices.Clone(cfg.Profiles.Application), apps...)
	return &c
}

// TestReloadUnderLoad changes a profile's destinations on running nodes
// while requests flow: eu.demo.chat-small loses eu-central-1, then gets it
// back. No request is served outside the destination set in force when it
// was routed, none is lost or unaudited, and the change is visible on the
// first request after Reload returns.
func TestReloadUnderLoad(t *testing.T) {
	c := startCluster(t, threeRegions, reloadYAML)
	src := c.nodes["eu-west-1"]
	v1 := c.cfg
	v2 := withoutDeployment(v1, "eu-central-1", topology.ApplicationProfile{ID: "claims-v2", CopyFrom: "eu.demo.chat-small"})
	order := []string{"eu-west-1", "eu-central-1", "us-east-1"} // the source first: it routes
	reloadAll := func(cfg *topology.Config) {
		for _, r := range order {
			if err := c.nodes[r].Reload(cfg); err != nil {
				t.Fatalf("Reload(%s) = %v", r, err)
			}
		}
	}

	// phase is even while one topology is in force everywhere (0: v1,
	// 2: v2, 4: v1 again), odd while nodes are being reloaded.
	var phase atomic.Int64
	inForce := map[int64][]string{0: {"eu-central-1", "eu-west-1"}, 2: {"eu-west-1"}, 4: {"eu-central-1", "eu-west-1"}}
	type result struct {
		start, end int64
		status     int
		region     string
		err        error
	}
	const total, workers = 600, 16
	var sent, done atomic.Int64
	// reached[n] closes when the n-th request has ended.
	reached := map[int64]chan struct{}{150: make(chan struct{}), 350: make(chan struct{})}
	results := make([]result, total)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := sent.Add(1) - 1
				if i >= total {
					return
				}
				r := result{start: phase.Load()}
				req, _ := http.NewRequest("POST", c.url("eu-west-1")+"/v1/chat/completions", strings.NewReader(chatBody("eu.demo.chat-small", i%4 == 0)))
				req.Header.Set("Authorization", "Bearer "+c.key)
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					r.status, r.region = resp.StatusCode, resp.Header.Get("x-meridian-inference-region")
				}
				r.err, r.end = err, phase.Load()
				results[i] = r
				if ch, ok := reached[done.Add(1)]; ok {
					close(ch)
				}
			}
		})
	}
	waitDone := func(n int64) {
		select {
		case <-reached[n]:
		case <-time.After(time.Minute): // a hang guard only
			t.Fatalf("only %d requests ended, want %d", done.Load(), n)
		}
	}

	waitDone(150)
	phase.Store(1)
	reloadAll(v2)
	phase.Store(2)
	// The change is visible on the very next request.
	if st, _, b := c.post("eu-west-1", chatBody("claims-v2", false), c.key); st != http.StatusOK {
		t.Errorf("claims-v2 right after Reload: %d %s, want 200", st, b)
	}
	if got := src.Gateway().Catalog(); got == nil {
		t.Fatal("no catalog")
	} else if p, _ := got.Get("eu.demo.chat-small"); !slices.Equal(p.Destinations, []string{"eu-west-1"}) {
		t.Errorf("eu.demo.chat-small destinations after Reload = %v, want [eu-west-1]", p.Destinations)
	}
	if len(c.nodes["eu-central-1"].Backends()) != 0 {
		t.Errorf("eu-central-1 backends after its deployment was removed = %v, want none", c.nodes["eu-central-1"].Backends())
	}
	// The removed deployment's backend is closed once the requests that
	// entered under v1 have ended.
	central := c.nodes["eu-central-1"]
	central.retiring.Wait() // the v1 generation drained and its backends were closed
	if n := central.openBackends(); n != 0 {
		t.Fatalf("eu-central-1 still holds %d open backends after its deployment was removed", n)
	}
	waitDone(350)
	phase.Store(3)
	reloadAll(v1)
	phase.Store(4)
	if len(c.nodes["eu-central-1"].Backends()) != 1 {
		t.Errorf("eu-central-1 backends after its deployment came back = %d, want 1", len(c.nodes["eu-central-1"].Backends()))
	}
	wg.Wait()

	union := []string{"eu-central-1", "eu-west-1"}
	perPhase := map[int64]map[string]int{}
	answered := 0
	for i, r := range results {
		if r.err != nil {
			t.Errorf("request %d: %v (lost)", i, r.err)
			continue
		}
		answered++
		if r.status != http.StatusOK {
			// A forwarded request may meet a destination that has already
			// reloaded: it is refused there, never served elsewhere.
			continue
		}
		if !slices.Contains(union, r.region) {
			t.Errorf("request %d served in %s, outside every destination set %v", i, r.region, union)
		}
		if r.start == r.end && r.start%2 == 0 {
			if !slices.Contains(inForce[r.start], r.region) {
				t.Errorf("request %d (phase %d) served in %s, outside the set in force %v", i, r.start, r.region, inForce[r.start])
			}
			if perPhase[r.start] == nil {
				perPhase[r.start] = map[string]int{}
			}
			perPhase[r.start][r.region]++
		}
	}
	if perPhase[0]["eu-central-1"] == 0 {
		t.Errorf("no request of phase 0 ran in eu-central-1 (%v); the test shows nothing", perPhase)
	}
	if perPhase[2]["eu-west-1"] == 0 {
		t.Errorf("no request ran while v2 was in force (%v); the test shows nothing", perPhase)
	}

	// Every answer is audited at the source (the two requests above too).
	// A request's event is written before its answer is (Append returns
	// once written): every answered request is in the trail by now.
	want := int64(answered + 1)
	if got := src.audit.Stats().Written; got != want {
		t.Errorf("audit events at the source = %d, want %d (one per answer)", got, want)
	}
	if got := reloadCount(src, ReloadOK); got != 2 {
		t.Errorf("meridian_config_reloads_total{result=ok} = %v, want 2", got)
	}
}

// TestReloadDecision: a valid change is applied; an invalid one or one
// that needs a restart is refused with field paths and the running
// topology is kept; each is counted.
func TestReloadDecision(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}}, "")
	n := c.nodes["eu-west-1"]
	base := n.Config()

	listen := *base
	listen.Regions = slices.Clone(base.Regions)
	listen.Regions[0].Listen = "127.0.0.1:1"
	invalid := *base
	invalid.Routing.MaxAttempts = -1
	lookalike := withoutDeployment(base, "nowhere", topology.ApplicationProfile{ID: "eu.evil", CopyFrom: "global.demo.chat-small"})
	added := withoutDeployment(base, "nowhere", topology.ApplicationProfile{ID: "team-a", CopyFrom: "eu.demo.chat-small"})

	tests := []struct {
		name    string
		cfg     *topology.Config
		result  string
		field   string
		applied bool
	}{
		{"unchanged", base, ReloadUnchanged, "", false},
		{"invalid value", &invalid, ReloadInvalid, "routing.max_attempts", false},
		{"lookalike profile", lookalike, ReloadInvalid, "profiles.application[0].id", false},
		{"listener", &listen, ReloadRestartRequired, "regions[0]", false},
		{"profile added", added, ReloadOK, "", true},
	}
	for _, tc := range tests {
		before := n.Config()
		counted := reloadCount(n, tc.result)
		err := n.Reload(tc.cfg)
		if got := reloadCount(n, tc.result); got != counted+1 {
			t.Errorf("%s: reloads{result=%s} = %v, want %v", tc.name, tc.result, got, counted+1)
		}
		if tc.field == "" && err != nil {
			t.Errorf("%s: Reload = %v, want nil", tc.name, err)
		}
		if tc.field != "" {
			var ve *topology.ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("%s: Reload = %v, want a validation error naming %s", tc.name, err, tc.field)
			}
			if tc.result == ReloadRestartRequired && (!errors.Is(err, ErrRestartRequired) || !strings.Contains(err.Error(), "restart required")) {
				t.Errorf("%s: Reload = %v, want it to say restart required", tc.name, err)
			}
		}
		if applied := n.Config() != before; applied != tc.applied {
			t.Errorf("%s: topology replaced = %v, want %v", tc.name, applied, tc.applied)
		}
	}
	if _, err := n.Gateway().Catalog().Resolve("eu-west-1", "team-a"); err != nil {
		t.Errorf("team-a after reload: %v", err)
	}
	if _, err := n.Gateway().Catalog().Resolve("eu-west-1", "eu.evil"); err == nil {
		t.Error("eu.evil resolves after a refused reload")
	}
}

// reloadCount reads meridian_config_reloads_total{result}.
func reloadCount(n *Node, result string) float64 {
	var m dto.Metric
	if err := n.reloads.WithLabelValues(result).Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}

// TestReadinessTurnsOffBeforeListenersClose: while a node drains, /readyz
// answers 503 (a load balancer's probe sees "not ready", not "connection
// refused") and requests are still served, until the listeners close.
func TestReadinessTurnsOffBeforeListenersClose(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "")
	n := c.nodes["eu-west-1"]
	n.BeginDrain()
	resp, err := http.Get(c.url("eu-west-1") + "/readyz")
	if err != nil {
		t.Fatalf("GET /readyz while draining: %v, want a 503 answer", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz while draining = %d, want 503", resp.StatusCode)
	}
	if st, _, b := c.post("eu-west-1", chatBody("eu.demo.chat-small", false), c.key); st != http.StatusOK {
		t.Errorf("request during the grace = %d %s, want 200", st, b)
	}
	if err := n.Reload(withoutDeployment(n.Config(), "nowhere", topology.ApplicationProfile{ID: "late", CopyFrom: "eu.demo.chat-small"})); err == nil {
		t.Error("Reload while draining = nil, want refused")
	}
}

func TestDrainGraceDefault(t *testing.T) {
	t.Parallel()
	zero := topology.Duration(0)
	for _, tc := range []struct {
		s    topology.Server
		want time.Duration
	}{
		{topology.Server{}, topology.DefaultDrainGrace},
		{topology.Server{DrainGrace: &zero}, 0},
	} {
		if got := tc.s.DrainGraceOrDefault(); got != tc.want {
			t.Errorf("DrainGraceOrDefault(%v) = %v, want %v", tc.s.DrainGrace, got, tc.want)
		}
	}
}

// openBackends counts the backends built and not yet closed.
func (n *Node) openBackends() int {
	n.backendsMu.Lock()
	defer n.backendsMu.Unlock()
	return len(n.allBackends)
}
