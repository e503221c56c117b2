package node

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// settleNode is peerNode with a manual clock.
func settleNode(t *testing.T, clk clock.Clock) (*Node, *bytes.Buffer) {
	t.Helper()
	cfg, err := topology.Parse([]byte(`account: "111122223333"
audit: {disabled: true}
link: {insecure_dev_link: true}
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
  - {id: eu-central-1, geography: eu, location: {lat: 50, lon: 8}, listen: "127.0.0.1:3", link: "127.0.0.1:4"}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
  - {model: demo.chat-small, region: eu-central-1, backend: {type: mock}}
`), "peer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, DataDir: t.TempDir(), Clock: clk,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Shutdown(ctx)
	})
	logs.Reset()
	return n, &logs
}

// TestProfilePropagationIsNotATopologyMismatch: a peer's state carries
// its new application profile and the digest that covers it; the profile
// is merged before the digest is compared, so they agree. A digest that
// changed and differs (a profile of a third region that reached the peer
// first) is not reported while it settles, and is reported (ERROR, metric,
// regions view) once it outlasts topologySettle. A difference no recent
// change explains is reported at once.
func TestProfilePropagationIsNotATopologyMismatch(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(peerT0)
	n, logs := settleNode(t, clk)
	base := n.Gateway().Catalog().ResidencyDigest()
	withProfile, _, err := n.Gateway().Catalog().WithApplication(profile.Profile{ID: "abc123def456", CopyFrom: "eu.demo.chat-small"})
	if err != nil {
		t.Fatal(err)
	}
	third := "a digest covering a profile this node has not received yet"

	steps := []struct {
		name     string
		at       time.Duration // after peerT0
		digest   string
		profiles bool // the state carries the peer's profile record
		want     bool // topologyMismatch reported after the step
		errors   int  // ERROR lines in the log so far
	}{
		{"same topology", 0, base, false, false, 0},
		{"the peer's new profile with its digest", time.Second, withProfile.ResidencyDigest(), true, false, 0},
		{"a third region's profile reached the peer first", 2 * time.Second, third, true, false, 0},
		{"still settling", 2*time.Second + topologySettle - time.Millisecond, third, true, false, 0},
		{"outlasted the settling time", 2*time.Second + topologySettle, third, true, true, 1},
		{"still differs: reported once", 3*time.Second + topologySettle, third, true, true, 1},
		{"agrees again", 4*time.Second + topologySettle, withProfile.ResidencyDigest(), true, false, 1},
		{"agreement lasts the settling time: the difference ended", 4*time.Second + 2*topologySettle, withProfile.ResidencyDigest(), true, false, 1},
		{"the peer reloads another topology file: it settles too", 4*time.Second + 3*topologySettle, "another topology file", true, false, 1},
		{"and is reported once it outlasts the settling time", 4*time.Second + 4*topologySettle, "another topology file", true, true, 2},
	}
	for _, st := range steps {
		clk.Set(peerT0.Add(st.at))
		s := fullPeerState(st.digest)
		if !st.profiles {
			s.Profiles = nil
		}
		body, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		n.onPeerState("eu-central-1", body, time.Millisecond)
		if got := n.topologyMismatch("eu-central-1"); got != st.want {
			t.Errorf("%s: topologyMismatch = %v, want %v", st.name, got, st.want)
		}
		if got := strings.Count(logs.String(), "peer runs a different residency topology"); got != st.errors {
			t.Errorf("%s: %d mismatch ERROR lines, want %d:\n%s", st.name, got, st.errors, logs)
		}
	}

	// A node whose first state from a peer differs, with no change to
	// explain it, reports it at once.
	n2, logs2 := settleNode(t, clock.NewManual(peerT0))
	s := fullPeerState("another topology file")
	s.Profiles = nil
	body, _ := json.Marshal(s)
	n2.onPeerState("eu-central-1", body, time.Millisecond)
	if !n2.topologyMismatch("eu-central-1") || !strings.Contains(logs2.String(), "level=ERROR") {
		t.Errorf("a difference at first sight was not reported at once:\n%s", logs2)
	}
}

// TestAlternatingStatesReportMismatch: two replicas of a peer behind one
// link address, one on this node's topology and one on another file,
// answer in turn every 5 s for ten minutes. Each agreeing state used to
// end the difference and restart its settling time, so it was never
// reported; the difference now ends only once agreement lasts
// topologySettle, and it is reported within the first states.
func TestAlternatingStatesReportMismatch(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(peerT0)
	n, logs := settleNode(t, clk)
	good := n.Gateway().Catalog().ResidencyDigest()
	send := func(d string) {
		s := fullPeerState(d)
		s.Profiles = nil
		body, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		n.onPeerState("eu-central-1", body, time.Millisecond)
	}
	send(good)
	firstReported := time.Duration(-1)
	for i := 1; i <= 120; i++ {
		clk.Advance(5 * time.Second)
		if i%2 == 0 {
			send("another topology file")
		} else {
			send(good)
		}
		if n.topologyMismatch("eu-central-1") && firstReported < 0 {
			firstReported = time.Duration(i) * 5 * time.Second
		}
	}
	if firstReported < 0 || firstReported > 2*topologySettle {
		t.Errorf("alternating states: mismatch first reported after %v (-1: never), want within %v", firstReported, 2*topologySettle)
	}
	if !strings.Contains(logs.String(), "peer runs a different residency topology") {
		t.Errorf("no mismatch ERROR line in ten minutes of alternating states:\n%s", logs)
	}

	// Agreement that lasts topologySettle ends the difference: a later
	// difference after a change settles again.
	clk.Advance(5 * time.Second)
	for range 3 {
		send(good)
		clk.Advance(5 * time.Second)
	}
	if n.topologyMismatch("eu-central-1") {
		t.Fatal("mismatch still reported after agreement")
	}
	send("a digest covering a profile this node has not received yet")
	if n.topologyMismatch("eu-central-1") {
		t.Error("a difference after lasting agreement was reported at once, want it to settle")
	}
}
