package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// forgedTopology has an EU with two regions hosting demo.chat-small and a
// US region, the only host of demo.chat-large, so that
// global.demo.chat-large from the EU runs in the US.
const forgedTopology = `account: "111122223333"
audit: {disabled: true}
link: {insecure_dev_link: true}
geographies: {eu: {name: EU}, us: {name: US}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
  - {id: eu-central-1, geography: eu, location: {lat: 50, lon: 8}, listen: "127.0.0.1:3", link: "127.0.0.1:4"}
  - {id: us-east-1, geography: us, location: {lat: 38, lon: -77}, listen: "127.0.0.1:5", link: "127.0.0.1:6"}
models: [{id: demo.chat-small}, {id: demo.chat-large}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
  - {model: demo.chat-small, region: eu-central-1, backend: {type: mock}}
  - {model: demo.chat-small, region: us-east-1, backend: {type: mock}}
  - {model: demo.chat-large, region: us-east-1, backend: {type: mock}}
`

var forgedT0 = time.Date(2026, 12, 7, 21, 0, 0, 0, time.UTC)

// euTeam is the application profile an EU team created in eu-west-1.
var euTeam = profile.Record{ID: "t88elxdjb8zs", Name: "claims-team-eu", CopyFrom: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small",
	HomeRegion: "eu-west-1", Tags: map[string]string{"team": "claims"}, CreatedAt: forgedT0, UpdatedAt: forgedT0}

func forgedNode(t *testing.T, region string, clk clock.Clock) (*Node, *bytes.Buffer) {
	t.Helper()
	n, logs := forgedNodeIn(t, region, clk, t.TempDir())
	logs.Reset()
	return n, logs
}

// forgedNodeIn is forgedNode on dataDir, with the start-up's log.
func forgedNodeIn(t *testing.T, region string, clk clock.Clock, dataDir string) (*Node, *bytes.Buffer) {
	t.Helper()
	cfg, err := topology.Parse([]byte(forgedTopology), "forged.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	n, err := New(Options{Config: cfg, Region: region, Dev: true, DataDir: dataDir, Clock: clk,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Shutdown(ctx)
	})
	return n, &logs
}

// forgeries are what a rogue node sends about euTeam, from its own region.
func forgeries() []struct {
	name, peer string
	rec        profile.Record
} {
	redirect := func(f func(*profile.Record)) profile.Record {
		r := euTeam
		r.CopyFrom, r.UpdatedAt = "global.demo.chat-large", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		f(&r)
		return r
	}
	return []struct {
		name, peer string
		rec        profile.Record
	}{
		{"the review's forgery: us-east-1 repoints it, dated 2030", "us-east-1", redirect(func(*profile.Record) {})},
		{"us-east-1 repoints it, dated now", "us-east-1", redirect(func(r *profile.Record) { r.UpdatedAt = forgedT0.Add(time.Minute) })},
		{"us-east-1 claims it as its own", "us-east-1", redirect(func(r *profile.Record) { r.HomeRegion, r.UpdatedAt = "us-east-1", forgedT0.Add(time.Minute) })},
		{"eu-central-1 relays a repointed copy", "eu-central-1", redirect(func(r *profile.Record) { r.UpdatedAt = forgedT0.Add(time.Minute) })},
		{"the home region repoints it", "eu-west-1", redirect(func(r *profile.Record) { r.UpdatedAt = forgedT0.Add(time.Minute) })},
		{"the home region repoints it, dated 2030", "eu-west-1", redirect(func(*profile.Record) {})},
	}
}

// publish applies a state of peer carrying recs, as the link delivers it.
func publish(n *Node, peer string, recs ...profile.Record) {
	n.applyPeerState(peer, peerState{Snapshot: routing.Snapshot{Region: peer, SentAt: forgedT0}, Profiles: recs}, 0)
}

// TestForgedProfileStaysInEUAtTheSource: an EU node that learnt euTeam
// from its home region keeps routing calls of it from the EU to the EU
// only, whatever record a peer then sends about it, and logs the refusal.
// A rival claim of the id by another home withdraws it (fails closed).
func TestForgedProfileStaysInEUAtTheSource(t *testing.T) {
	t.Parallel()
	for _, f := range forgeries() {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			n, logs := forgedNode(t, "eu-central-1", clock.NewManual(forgedT0.Add(time.Hour)))
			publish(n, "eu-west-1", euTeam)
			if !strings.Contains(logs.String(), "application profile changed by its home region") {
				t.Fatalf("the honest creation was not logged:\n%s", logs)
			}
			publish(n, f.peer, f.rec)
			cat := n.Gateway().Catalog()
			assertEUOnly(t, cat)
			if _, err := cat.Resolve("eu-central-1", euTeam.ID); err != nil && !strings.Contains(f.name, "as its own") {
				t.Errorf("Resolve(%s) from eu-central-1: %v", euTeam.ID, err)
			}
			if got, _ := n.profiles.Get(euTeam.ID); got.CopyFrom != euTeam.CopyFrom || !got.UpdatedAt.Equal(euTeam.UpdatedAt) {
				t.Errorf("stored %+v, want the honest record", got)
			}
			// Every forgery contradicts the record held: a warning naming
			// the peer and the profile.
			warn := "level=WARN msg=\"peer sent an application profile this node does not accept; ignored\" region=eu-central-1 peer=" + f.peer + " profile=" + euTeam.ID
			conflict := "level=ERROR msg=\"two home regions claim one application profile id; the record held is kept and served only from its home\" region=eu-central-1 peer=" + f.peer + " profile=" + euTeam.ID
			if !strings.Contains(logs.String(), warn) && !strings.Contains(logs.String(), conflict) {
				t.Errorf("the refused record was not logged as a warning or an error:\n%s", logs)
			}
		})
	}
}

// TestForgedProfileRefusedAtTheDestination: a US node that learnt euTeam
// from its home region refuses to serve a call of it forwarded from the
// EU, whatever record a peer then sends about it.
func TestForgedProfileRefusedAtTheDestination(t *testing.T) {
	t.Parallel()
	for _, f := range forgeries() {
		if f.peer == "us-east-1" {
			continue // the destination itself
		}
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			n, _ := forgedNode(t, "us-east-1", clock.NewManual(forgedT0.Add(time.Hour)))
			publish(n, "eu-west-1", euTeam)
			publish(n, f.peer, f.rec)
			job := &gateway.Job{RequestID: "fwd", Operation: gateway.OpChatCompletions, SourceRegion: "eu-west-1", DestinationRegion: "us-east-1",
				ProfileID: euTeam.ID, Model: "demo.chat-large", Principal: auth.Principal{ID: "anyone"}, Request: &inference.Request{Model: euTeam.ID}}
			out, err := n.Gateway().ServeForwarded(t.Context(), job)
			if err == nil {
				t.Fatalf("us-east-1 served a forwarded call of an EU application profile: %+v", out)
			}
			if k := inference.AsError(err).Kind; k != inference.KindPermissionDenied || !strings.Contains(err.Error(), "residency") {
				t.Errorf("ServeForwarded = %v (kind %v), want a residency refusal", err, k)
			}
		})
	}
}

// TestRelayedProfileWaitsForItsHome: a record relayed by a third region is
// not taken, and the same record from its home region is.
func TestRelayedProfileWaitsForItsHome(t *testing.T) {
	t.Parallel()
	n, logs := forgedNode(t, "eu-central-1", clock.NewManual(forgedT0.Add(time.Hour)))
	publish(n, "us-east-1", euTeam)
	if _, ok := n.profiles.Get(euTeam.ID); ok {
		t.Fatalf("a record relayed by us-east-1 was stored")
	}
	if !strings.Contains(logs.String(), "another home region") {
		t.Errorf("the relayed record was not logged:\n%s", logs)
	}
	publish(n, "eu-west-1", euTeam)
	if _, ok := n.profiles.Get(euTeam.ID); !ok {
		t.Errorf("the record from its home region was not stored")
	}
	// Relayed again, now that it is held: nothing new, nothing logged.
	logs.Reset()
	publish(n, "us-east-1", euTeam)
	if logs.Len() != 0 {
		t.Errorf("a relayed copy of a held record was logged:\n%s", logs)
	}
}

// assertEUOnly fails unless cat, whatever name an EU caller uses,
// resolves euTeam's id to EU regions only, not by an ARN naming another
// region than its home, and passes no residency check of it from the EU
// with a US destination.
func assertEUOnly(t *testing.T, cat *profile.Catalog) {
	t.Helper()
	for _, src := range []string{"eu-west-1", "eu-central-1"} {
		for _, name := range []string{euTeam.ID, "arn:aws:bedrock:" + src + ":111122223333:application-inference-profile/" + euTeam.ID} {
			res, err := cat.Resolve(src, name)
			if err != nil {
				continue
			}
			switch {
			case strings.HasPrefix(name, "arn:") && src != euTeam.HomeRegion:
				t.Errorf("Resolve(%s) from %s = %v, want a refusal: its ARN names its home", name, src, res.Destinations)
			}
			for _, d := range res.Destinations {
				if cat.Geography(d) != "eu" {
					t.Errorf("called from %s, %s may run in %s", src, name, d)
				}
			}
		}
		if err := cat.CheckDestination(euTeam.ID, src, "us-east-1"); err == nil {
			t.Errorf("the residency check lets %s called from %s run in us-east-1", euTeam.ID, src)
		}
	}
}

// TestTombstoneFloodBounded: a peer that publishes 3 times 3,000
// tombstones of ids it makes up gets at most profile.MaxRecordsPerHome
// records and profile.MaxHomeBytes held of its home; the excess is
// refused, and logged one by one only up to the per-peer limit.
func TestTombstoneFloodBounded(t *testing.T) {
	t.Parallel()
	n, logs := forgedNode(t, "eu-central-1", clock.NewManual(forgedT0.Add(time.Hour)))
	for b := range 3 {
		var recs []profile.Record
		for i := range 3000 {
			r := euTeam
			r.ID, r.Name, r.HomeRegion, r.Deleted = fmt.Sprintf("tomb%d-%05d", b, i), fmt.Sprintf("n%d-%d", b, i), "us-east-1", true
			r.CopyFrom = "us.demo.chat-small"
			recs = append(recs, r)
		}
		publish(n, "us-east-1", recs...)
	}
	held, size := 0, 0
	for _, r := range n.profiles.Records() {
		if r.HomeRegion == "us-east-1" {
			b, _ := json.Marshal(r)
			held, size = held+1, size+len(b)
		}
	}
	if held == 0 || held > profile.MaxRecordsPerHome || size > profile.MaxHomeBytes {
		t.Errorf("after 3 floods of 3,000 tombstones: %d records, %d bytes held of us-east-1; bounds %d, %d", held, size, profile.MaxRecordsPerHome, profile.MaxHomeBytes)
	}
	if lines := strings.Count(logs.String(), "does not accept"); lines == 0 || lines > maxRefusedPerPeer+1 {
		t.Errorf("%d refusals logged one by one, want 1 to %d", lines, maxRefusedPerPeer+1)
	}
}
