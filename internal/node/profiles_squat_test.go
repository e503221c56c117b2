package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/profilestore"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// squat is what a rogue us-east-1 publishes as its own: euTeam's id,
// homed in us-east-1, copying the global profile that runs in the US.
func squat() profile.Record {
	r := euTeam
	r.HomeRegion, r.CopyFrom = "us-east-1", "global.demo.chat-large"
	return r
}

// TestSquatDeliveredFirst is the review's finding at a node: the squat
// reaches eu-central-1 before the honest record. Calls of the id from the
// EU are never served in the US, by bare id or by an ARN naming the
// caller's region; the conflict is logged at error naming both regions,
// and the honest region is not blamed for changing an immutable field.
func TestSquatDeliveredFirst(t *testing.T) {
	t.Parallel()
	n, logs := forgedNode(t, "eu-central-1", clock.NewManual(forgedT0.Add(time.Hour)))
	publish(n, "us-east-1", squat())
	assertEUOnly(t, n.Gateway().Catalog())
	publish(n, "eu-west-1", euTeam)
	cat := n.Gateway().Catalog()
	assertEUOnly(t, cat)
	if res, err := cat.Resolve("eu-central-1", euTeam.ID); err == nil {
		t.Errorf("a conflicted id resolves from eu-central-1 to %v, want it withdrawn", res.Destinations)
	}
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "two home regions claim one application profile id") ||
		!strings.Contains(out, "held as homed in us-east-1; eu-west-1 claims it") {
		t.Errorf("the conflict was not logged at error naming both regions:\n%s", out)
	}
	if strings.Contains(out, "immutable") {
		t.Errorf("the honest region was blamed for changing an immutable field:\n%s", out)
	}
}

// TestSquatAtAFreshHomeReplica: a fresh replica of eu-west-1 takes the
// squat from the link first; its region's record, from the replicas'
// shared set, replaces it, and the replica serves the honest profile.
// A squat written into the shared set (regions may share one Redis
// server) is not taken from it, nor is a record dated beyond the skew or
// without a home, and the replica writes back only its region's records.
func TestSquatAtAFreshHomeReplica(t *testing.T) {
	t.Parallel()
	n, logs := forgedNode(t, "eu-west-1", clock.NewManual(forgedT0.Add(time.Hour)))
	ctx := t.Context()
	put := func(recs ...profile.Record) {
		t.Helper()
		fields := map[string]string{}
		for _, r := range recs {
			b, _ := json.Marshal(r)
			fields[r.ID] = string(b)
		}
		if err := n.limiter.PutRecords(ctx, profilestore.SharedSetOf("eu-west-1"), fields); err != nil {
			t.Fatal(err)
		}
	}
	other := squat()
	other.ID = "sharedsquat1"
	future := euTeam
	future.ID, future.UpdatedAt = "futurerecord", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	homeless := euTeam
	homeless.ID, homeless.HomeRegion, homeless.CopyFrom = "nohomerecord", "", "global.demo.chat-large"
	put(other, future, homeless)
	n.syncProfiles(ctx)
	for _, id := range []string{other.ID, future.ID, homeless.ID} {
		if _, ok := n.profiles.Get(id); ok {
			t.Errorf("the shared set gave %s", id)
		}
	}

	publish(n, "us-east-1", squat())
	if _, err := n.Gateway().Catalog().Resolve("eu-west-1", euTeam.ID); err == nil {
		t.Fatalf("the squat homed in us-east-1 is served from eu-west-1")
	}
	put(euTeam)
	n.syncProfiles(ctx)
	cat := n.Gateway().Catalog()
	assertEUOnly(t, cat)
	res, err := cat.Resolve("eu-west-1", euTeam.ID)
	if err != nil {
		t.Fatalf("the honest profile from the shared set is not served at its home: %v\n%s", err, logs)
	}
	for _, d := range res.Destinations {
		if cat.Geography(d) != "eu" {
			t.Errorf("called from eu-west-1, may run in %s", d)
		}
	}
	// Only eu-west-1's records are written to the shared set.
	set, err := n.limiter.Records(ctx, profilestore.SharedSetOf("eu-west-1"))
	if err != nil {
		t.Fatal(err)
	}
	var held profile.Record
	if json.Unmarshal([]byte(set[euTeam.ID]), &held) != nil || held.HomeRegion != "eu-west-1" {
		t.Errorf("the shared set holds %s for %s, want the honest record", set[euTeam.ID], euTeam.ID)
	}
}

// TestTrialAftermathHeals: the trial left the 2030 forgery in every
// node's store, the home's included. At start no node serves it and the
// home logs it at error without deleting it; the operator's Delete dates
// its tombstone now, and a peer that merges the home's state takes the
// tombstone in its place.
func TestTrialAftermathHeals(t *testing.T) {
	t.Parallel()
	forged := euTeam
	forged.CopyFrom, forged.UpdatedAt = "global.demo.chat-large", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clock.NewManual(forgedT0.Add(time.Hour))
	stores := map[string]string{}
	for _, region := range []string{"eu-west-1", "eu-central-1"} {
		dir := t.TempDir()
		if err := profilestore.Open(dir, region).Save([]profile.Record{forged}); err != nil {
			t.Fatal(err)
		}
		stores[region] = dir
	}
	peer, peerLogs := forgedNodeIn(t, "eu-central-1", clk, stores["eu-central-1"])
	for _, src := range []string{"eu-west-1", "eu-central-1"} {
		if res, err := peer.Gateway().Catalog().Resolve(src, euTeam.ID); err == nil {
			t.Errorf("the peer serves the held forgery from %s: %v", src, res.Destinations)
		}
	}
	if !strings.Contains(peerLogs.String(), "record dated in the future") {
		t.Errorf("the quarantined record was not logged:\n%s", peerLogs)
	}
	home, homeLogs := forgedNodeIn(t, "eu-west-1", clk, stores["eu-west-1"])
	if _, ok := home.profiles.Get(euTeam.ID); !ok {
		t.Fatal("the home deleted the record at start-up; only an operator may")
	}
	if _, err := home.Gateway().Catalog().Resolve("eu-west-1", euTeam.ID); err == nil {
		t.Error("the home serves the held forgery")
	}
	if !strings.Contains(homeLogs.String(), "level=ERROR") || !strings.Contains(homeLogs.String(), "dated in the future") {
		t.Errorf("the held forgery was not logged at error:\n%s", homeLogs)
	}
	if _, err := home.profiles.Delete(euTeam.ID, clk.Now()); err != nil {
		t.Fatal(err)
	}
	st := home.state().(peerState)
	if len(st.Profiles) != 1 || !st.Profiles[0].Deleted || !st.Profiles[0].UpdatedAt.Equal(clk.Now()) {
		t.Fatalf("the home publishes %+v, want a tombstone dated now", st.Profiles)
	}
	peerLogs.Reset()
	publish(peer, "eu-west-1", st.Profiles...)
	recs := peer.profiles.Records()
	if len(recs) != 1 || !recs[0].Deleted || !recs[0].UpdatedAt.Equal(clk.Now()) {
		t.Errorf("the peer holds %+v, want the home's tombstone", recs)
	}
	if !strings.Contains(peerLogs.String(), "change=replaced") {
		t.Errorf("the replacement was not logged:\n%s", peerLogs)
	}
}

// TestSlowClockKeepsProfilesAtStart: a home replica whose clock runs 10
// minutes slow restarts holding a profile a sibling created 2 minutes
// ago (by the right clock). It does not serve it while it is ahead of its
// clock, logs it at error, and keeps it: no tombstone older than the
// record, which peers would ignore while the home forgets the profile.
func TestSlowClockKeepsProfilesAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	right := forgedT0.Add(time.Hour)
	rec := euTeam
	rec.ID, rec.CreatedAt, rec.UpdatedAt = "siblingmade1", right.Add(-2*time.Minute), right.Add(-2*time.Minute)
	if err := profilestore.Open(dir, "eu-west-1").Save([]profile.Record{rec}); err != nil {
		t.Fatal(err)
	}
	n, logs := forgedNodeIn(t, "eu-west-1", clock.NewManual(right.Add(-10*time.Minute)), dir)
	got, ok := n.profiles.Get(rec.ID)
	if !ok || got.Deleted || !got.UpdatedAt.Equal(rec.UpdatedAt) {
		t.Fatalf("after a slow-clock start the home holds %+v (live %v), want the sibling's record", n.profiles.Records(), ok)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "check this node's clock") {
		t.Errorf("the record ahead of the clock was not logged at error:\n%s", logs)
	}
	if st := n.state().(peerState); len(st.Profiles) != 1 || st.Profiles[0].Deleted {
		t.Errorf("the home publishes %+v, want the live record", st.Profiles)
	}
}

// sameGeoTopology adds eu-west-3 to forgedTopology's regions, hosting
// both models, so that an EU region can squat an EU team's id with a
// global copy while a third EU region watches.
const sameGeoTopology = `
account: "111122223333"
audit: {disabled: true}
link: {insecure_dev_link: true}
geographies: {eu: {name: EU}, us: {name: US}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
  - {id: eu-central-1, geography: eu, location: {lat: 50, lon: 8}, listen: "127.0.0.1:3", link: "127.0.0.1:4"}
  - {id: eu-west-3, geography: eu, location: {lat: 48, lon: 2}, listen: "127.0.0.1:7", link: "127.0.0.1:8"}
  - {id: us-east-1, geography: us, location: {lat: 38, lon: -77}, listen: "127.0.0.1:5", link: "127.0.0.1:6"}
models: [{id: demo.chat-small}, {id: demo.chat-large}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
  - {model: demo.chat-small, region: eu-central-1, backend: {type: mock}}
  - {model: demo.chat-small, region: eu-west-3, backend: {type: mock}}
  - {model: demo.chat-small, region: us-east-1, backend: {type: mock}}
  - {model: demo.chat-large, region: us-east-1, backend: {type: mock}}
  - {model: demo.chat-large, region: eu-west-3, backend: {type: mock}}
`

// TestConflictSurvivesRestart: eu-west-3 takes eu-central-1's squat of
// the EU team's id first, then the honest record from eu-west-1: the id
// is withdrawn. After a restart, before either claimant publishes again,
// it stays withdrawn (the conflict is saved with the records).
func TestConflictSurvivesRestart(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(sameGeoTopology), "samegeo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	clk := clock.NewManual(forgedT0.Add(time.Hour))
	start := func() (*Node, func()) {
		n, err := New(Options{Config: cfg, Region: "eu-west-3", Dev: true, DataDir: dir, Clock: clk,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return n, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n.Shutdown(ctx)
		}
	}
	n, stop := start()
	sq := euTeam
	sq.HomeRegion, sq.CopyFrom = "eu-central-1", "global.demo.chat-large"
	publish(n, "eu-central-1", sq)
	publish(n, "eu-west-1", euTeam)
	if res, err := n.Gateway().Catalog().Resolve("eu-west-3", euTeam.ID); err == nil {
		t.Errorf("after the conflict eu-west-3 resolves the id to %v", res.Destinations)
	}
	stop()
	n2, stop2 := start()
	defer stop2()
	if res, err := n2.Gateway().Catalog().Resolve("eu-west-3", euTeam.ID); err == nil {
		t.Errorf("after a restart eu-west-3 resolves the id to %v, want it withdrawn", res.Destinations)
	}
	if got := n2.profiles.Snapshot().Conflicts()[euTeam.ID]; !slices.Equal(got, []string{"eu-central-1", "eu-west-1"}) {
		t.Errorf("conflict after a restart: %v", got)
	}
}
