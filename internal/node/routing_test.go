package node

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var euRegions = []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}, {"eu-north-1", "eu"}, {"us-east-1", "us"}}

// load sends eu.demo.chat-small requests into source from workers until
// ctx ends, and returns the inference regions and failures seen.
func load(ctx context.Context, c *cluster, source string, workers int) (regions map[string]int, failures, total *atomic.Int64) {
	var mu sync.Mutex
	regions = map[string]int{}
	failures, total = new(atomic.Int64), new(atomic.Int64)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Go(func() {
			for ctx.Err() == nil {
				status, h, body := c.post(source, chatBody("eu.demo.chat-small", false), c.key)
				total.Add(1)
				if status != 200 {
					failures.Add(1)
					c.t.Logf("failed: %d %s", status, body)
					continue
				}
				mu.Lock()
				regions[h.Get("X-Meridian-Inference-Region")]++
				mu.Unlock()
			}
		})
	}
	go func() { <-ctx.Done() }()
	wg.Wait()
	return regions, failures, total
}

// TestRetryAfterIsHonoured: a destination answering 429 with Retry-After: 5
// receives no request for 5 s, then a single probe.
func TestRetryAfterIsHonoured(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 11 s of real time")
	}
	c := startCluster(t, euRegions, "")
	throttled := c.mocks["eu-central-1"]
	throttled.SetThrottled(5 * time.Second)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	var served map[string]int
	go func() {
		defer close(done)
		served, _, _ = load(ctx, c, "eu-central-1", 4)
	}()
	// Wait for the first 429 to reach the throttled deployment.
	deadline := time.Now().Add(5 * time.Second)
	for throttled.Stats().Throttled == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the throttled region never received a request")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Requests routed before the first 429 was observed may still arrive
	// in the next few milliseconds: start counting once they have.
	t0 := time.Now()
	time.Sleep(200 * time.Millisecond)
	base := throttled.Stats().Requests
	time.Sleep(4500 * time.Millisecond)
	during := throttled.Stats().Requests - base
	time.Sleep(4700 * time.Millisecond) // past the 5 s Retry-After, before the probe's own 5 s ends
	after := throttled.Stats().Requests - base
	cancel()
	<-done
	if during != 0 {
		t.Errorf("%d requests reached the throttled region between 0.2 s and 4.7 s into its Retry-After: 5", during)
	}
	if after-during != 1 {
		t.Errorf("%d requests reached the throttled region in the 5 s after its cooldown (t0+%v), want exactly 1 probe", after-during, time.Since(t0).Round(time.Millisecond))
	}
	if served["eu-central-1"] != 0 || served["us-east-1"] != 0 || served["eu-west-1"]+served["eu-north-1"] == 0 {
		t.Errorf("served in %v: want the EU's other regions only", served)
	}
}

// TestKillingADestinationMidLoad: with traffic spread over three regions of
// one geography, killing one destination node costs the client at most 1 %
// of requests, and no request lands outside the profile.
func TestKillingADestinationMidLoad(t *testing.T) {
	c := startCluster(t, euRegions, "", withConcurrency(map[string]int{"eu-west-1": 2, "eu-central-1": 8, "eu-north-1": 8}))
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	type result struct {
		regions         map[string]int
		failures, total *atomic.Int64
	}
	res := make(chan result, 1)
	go func() {
		// 8 workers: within what the surviving regions can serve (2 + 8
		// slots), so that failures measure the kill, not a shortage.
		r, f, n := load(ctx, c, "eu-west-1", 8)
		res <- result{r, f, n}
	}()
	time.Sleep(1500 * time.Millisecond)
	// Kill eu-central-1's node: listeners and every connection closed at
	// once, no drain.
	victim := c.nodes["eu-central-1"]
	victim.clientSrv.Close()
	victim.linkSrv.Close()
	killedAt := c.mocks["eu-central-1"].Stats().Requests
	r := <-res
	total, failures := r.total.Load(), r.failures.Load()
	t.Logf("%d requests, %d failed, served in %v", total, failures, r.regions)
	if total < 100 {
		t.Fatalf("only %d requests in 4 s: the load did not run", total)
	}
	if rate := float64(failures) / float64(total); rate > 0.01 {
		t.Errorf("%d of %d requests failed (%.2f%%), want at most 1%%", failures, total, 100*rate)
	}
	if r.regions["us-east-1"] != 0 {
		t.Errorf("%d eu. requests served in us-east-1", r.regions["us-east-1"])
	}
	if r.regions["eu-central-1"] == 0 || r.regions["eu-north-1"] == 0 {
		t.Errorf("served in %v: the load should have spread over the geography", r.regions)
	}
	if got := c.mocks["eu-central-1"].Stats().Requests - killedAt; got > 0 {
		t.Logf("%d requests reached eu-central-1's backend after its node died (in flight at the kill)", got)
	}
}

// TestSharpChangesArePushed: a throttled local deployment is published to
// peers at once, not at their next fetch. With a 10 s load interval, a peer
// learns of the cooldown within well under a second.
func TestSharpChangesArePushed(t *testing.T) {
	c := startCluster(t, euRegions, "", withLoadInterval("10s"))
	cooling := func() int64 {
		resp, err := authGet(c.url("eu-west-1")+"/meridian/v1/regions", c.key)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v RegionsView
		json.NewDecoder(resp.Body).Decode(&v)
		for _, r := range v.Regions {
			if r.ID == "eu-central-1" && len(r.Deployments) > 0 {
				return r.Deployments[0].CooldownRemainingMs
			}
		}
		return 0
	}
	time.Sleep(300 * time.Millisecond) // the peers' first fetch, at start
	if cooling() != 0 {
		t.Fatal("eu-central-1 cooling before any throttle")
	}
	c.mocks["eu-central-1"].SetThrottled(5 * time.Second)
	c.mocks["eu-west-1"].SetThrottled(5 * time.Second) // keep the request in eu-central-1's node
	c.mocks["eu-north-1"].SetThrottled(5 * time.Second)
	c.post("eu-central-1", chatBody("demo.chat-small", false), c.key)
	deadline := time.Now().Add(2 * time.Second)
	for cooling() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("eu-west-1 did not learn of eu-central-1's cooldown within 2 s; with a 10 s load interval only a push can tell it")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSpilloverVersusInRegionOnly: a burst larger than the source region's
// capacity. Called by bare model id (served only in the source region:
// in-region-only), much of it is throttled; called through the eu. profile,
// Meridian spreads it over the geography and throttles at most a tenth as
// much, never leaving the EU.
func TestSpilloverVersusInRegionOnly(t *testing.T) {
	// A short admission queue, so that a burst beyond capacity shows up as
	// 429s rather than waiting.
	c := startCluster(t, euRegions, "routing: { queue: { max: 2, timeout: 100ms } }\n",
		withConcurrency(map[string]int{"eu-west-1": 3, "eu-central-1": 6, "eu-north-1": 6}))
	burst := func(model string) (ok, throttled int, regions map[string]int) {
		var mu sync.Mutex
		regions = map[string]int{}
		var wg sync.WaitGroup
		for w := 0; w < 12; w++ {
			wg.Go(func() {
				for i := 0; i < 10; i++ {
					status, h, _ := c.post("eu-west-1", chatBody(model, false), c.key)
					mu.Lock()
					switch status {
					case 200:
						ok++
						regions[h.Get("X-Meridian-Inference-Region")]++
					case 429:
						throttled++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return ok, throttled, regions
	}
	_, inRegion, _ := burst("demo.chat-small")
	time.Sleep(1500 * time.Millisecond) // let cooldowns from the first burst pass
	ok, meridian, regions := burst("eu.demo.chat-small")
	t.Logf("in-region-only: %d of 120 throttled; Meridian: %d of 120 throttled, served in %v", inRegion, meridian, regions)
	if inRegion < 30 {
		t.Fatalf("in-region-only throttled only %d of 120: the burst does not exceed the region", inRegion)
	}
	if meridian*10 > inRegion {
		t.Errorf("Meridian throttled %d, more than a tenth of in-region-only's %d", meridian, inRegion)
	}
	if regions["us-east-1"] != 0 || ok+meridian != 120 {
		t.Errorf("served %v (%d ok, %d throttled of 120): want EU only and no other errors", regions, ok, meridian)
	}
}
