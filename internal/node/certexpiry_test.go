package node

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/pki"
)

// TestExpiredDestinationIsFailedOver: a destination's link certificate
// expires while the source holds connections to it. The source's callers
// are all served by the geography's other destination, never answered 403
// (the destination refuses each request on an old connection with a
// retryable answer, and new handshakes fail closed), and the expired
// destination serves nothing.
func TestExpiredDestinationIsFailedOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-region cluster")
	}
	nodes := clock.NewManual(time.Now()) // near the wall clock: the link's certificates are issued on it
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}, {"eu-north-1", "eu"}}, "", withClocks(nodes, nil))
	// eu-central-1 renews onto a certificate valid for an hour.
	dir := filepath.Dir(c.link.CAFile)
	if _, _, _, err := pki.IssueFiles(dir, pki.NodeOptions{Region: "eu-central-1", ValidFor: time.Hour, Now: nodes.Now()}); err != nil {
		t.Fatal(err)
	}
	if changed, err := c.nodes["eu-central-1"].linkStore.Reload(); !changed || err != nil {
		t.Fatalf("eu-central-1's renewal: changed=%v err=%v", changed, err)
	}
	// The source's own deployment is throttled: its requests are
	// forwarded.
	c.mocks["eu-west-1"].SetThrottled(24 * time.Hour)
	served := map[string]int{}
	for i := range 10 {
		status, h, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", false), c.key)
		if status != 200 {
			t.Fatalf("request %d before the expiry: %d %s", i, status, body)
		}
		served[h.Get("X-Meridian-Inference-Region")]++
	}
	t.Logf("before the expiry: served in %v", served)
	before := c.mocks["eu-central-1"].Stats().Requests

	nodes.Advance(time.Hour + time.Second)
	served = map[string]int{}
	for i := range 20 {
		status, h, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", false), c.key)
		if status != 200 {
			t.Fatalf("request %d after eu-central-1's certificate expired: %d %s, want served by eu-north-1", i, status, body)
		}
		served[h.Get("X-Meridian-Inference-Region")]++
	}
	if served["eu-north-1"] != 20 {
		t.Errorf("after the expiry: served in %v, want eu-north-1 only", served)
	}
	if got := c.mocks["eu-central-1"].Stats().Requests; got != before {
		t.Errorf("eu-central-1 served %d requests after its certificate expired", got-before)
	}
}
