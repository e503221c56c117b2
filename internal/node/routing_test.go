package node

import (
	"encoding/json"
	"testing"
	"time"
)

// The routing engine's timing (Retry-After and cooldowns, failover before
// the first byte, max_attempts, failover_deadline, the admission queue,
// capacity spill-over) is tested in internal/gateway with fakes and a
// manual clock. The tests here cross real sockets and assert behaviour
// only: no counts inside wall-clock windows.

var euRegions = []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}, {"eu-north-1", "eu"}, {"us-east-1", "us"}}

// TestKilledDestinationIsFailedOver: after one destination node dies (its
// listeners and connections closed, no drain), every request of the eu.
// profile is still served, by the geography's other regions, never
// outside it.
func TestKilledDestinationIsFailedOver(t *testing.T) {
	c := startCluster(t, euRegions, "")
	victim := c.nodes["eu-central-1"]
	victim.clientSrv.Close()
	victim.linkSrv.Close()
	served := map[string]int{}
	for i := range 30 {
		status, h, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", false), c.key)
		if status != 200 {
			t.Fatalf("request %d after the kill: %d %s, want served", i, status, body)
		}
		served[h.Get("X-Meridian-Inference-Region")]++
	}
	if served["eu-central-1"] != 0 || served["us-east-1"] != 0 {
		t.Errorf("served in %v after eu-central-1 died: want eu-west-1 and eu-north-1 only", served)
	}
}

// TestThrottledRegionIsAvoided: a destination answering 429 with a long
// Retry-After is failed over before the first byte, and the next requests
// are served by the geography's other regions without reaching it.
func TestThrottledRegionIsAvoided(t *testing.T) {
	c := startCluster(t, euRegions, "")
	throttled := c.mocks["eu-central-1"]
	throttled.SetThrottled(time.Hour)
	// Call from the throttled region, so that it is the first candidate.
	for i := range 10 {
		status, h, body := c.post("eu-central-1", chatBody("eu.demo.chat-small", false), c.key)
		if status != 200 {
			t.Fatalf("request %d: %d %s, want served elsewhere in the EU", i, status, body)
		}
		if r := h.Get("X-Meridian-Inference-Region"); r != "eu-west-1" && r != "eu-north-1" {
			t.Fatalf("request %d served in %q, want eu-west-1 or eu-north-1", i, r)
		}
	}
	if got := throttled.Stats().Requests; got > 1 {
		t.Errorf("the throttled deployment received %d requests, want at most 1 (the 429 that cooled it down)", got)
	}
}

// TestSharpChangesArePushed: a throttled local deployment makes its node
// push its state at once (the gateway's OnSharpChange is the node's
// pushState), not leave it for the peers' next fetch (here ten minutes
// away); the pushed state carries the cooldown, and a peer that receives it
// shows the cooldown. Delivery is applied directly, so the test does not
// depend on how fast the machine runs the push.
func TestSharpChangesArePushed(t *testing.T) {
	c := startCluster(t, euRegions, "", withLoadInterval("10m"))
	src, peer := c.nodes["eu-central-1"], c.nodes["eu-west-1"]
	cooling := func() int64 {
		t.Helper()
		resp, err := authGet(c.url("eu-west-1")+"/meridian/v1/regions", c.key)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v RegionsView
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		for _, r := range v.Regions {
			if r.ID == "eu-central-1" && len(r.Deployments) > 0 {
				return r.Deployments[0].CooldownRemainingMs
			}
		}
		return 0
	}
	if cooling() != 0 || src.lastPush.Load() != 0 {
		t.Fatal("eu-central-1 cooling or pushed before any throttle")
	}
	c.mocks["eu-central-1"].SetThrottled(time.Minute)
	// The bare model runs only in the source region: the 429 is
	// eu-central-1's own.
	if status, _, body := c.post("eu-central-1", chatBody("demo.chat-small", false), c.key); status != 429 {
		t.Fatalf("bare model in throttled eu-central-1: %d %s, want 429", status, body)
	}
	if src.lastPush.Load() == 0 {
		t.Fatal("the throttle did not make eu-central-1 push its state")
	}
	src.pushing.Wait()
	body, err := json.Marshal(src.state())
	if err != nil {
		t.Fatal(err)
	}
	peer.onPush("eu-central-1", body)
	if cooling() <= 0 {
		t.Error("eu-west-1 does not show eu-central-1's cooldown after receiving its state")
	}
}
