package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/topology"
	"github.com/meridian-gateway/meridian/internal/ui"
)

func newClock() *clock.Manual { return clock.NewManual(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)) }

func rec(id, side, src, dst, profile string) *gateway.Record {
	return &gateway.Record{RequestID: id, Side: side, SourceRegion: src, InferenceRegion: dst, ProfileID: profile,
		PrincipalID: "demo-user", Route: "local", Status: 200, Latency: 420 * time.Millisecond,
		Attempts: []gateway.Attempt{{Region: dst, Outcome: "ok", Status: 200, Duration: 400 * time.Millisecond}}}
}

func demoConfig(t testing.TB) *topology.Config {
	t.Helper()
	b, err := os.ReadFile("testdata/live/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := topology.Parse(b, "testdata/live/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newLive(t testing.TB, region string, clock ui.Clock, recent int) *ui.Live {
	t.Helper()
	l, err := ui.NewLive(ui.LiveOptions{Region: region, Config: demoConfig(t), Clock: clock, Recent: recent})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func record(t *testing.T, l *ui.Live, recs ...*gateway.Record) {
	t.Helper()
	for _, r := range recs {
		if err := l.Record(context.Background(), r); err != nil {
			t.Fatalf("Record(%s) = %v, want nil", r.RequestID, err)
		}
	}
}

func TestLiveFlows(t *testing.T) {
	t.Parallel()
	clock := newClock()
	l := newLive(t, "eu-west-1", clock, 0)
	record(t, l,
		rec("r1", "source", "eu-west-1", "eu-west-1", "eu.demo.chat-small"),
		rec("r2", "source", "eu-west-1", "eu-central-1", "eu.demo.chat-small"),
		rec("r3", "source", "eu-west-1", "us-east-1", "global.demo.chat-small"),
		// Served here for another source: its source node publishes it.
		rec("r4", "destination", "eu-central-1", "eu-west-1", "eu.demo.chat-small"),
	)
	failed := rec("r5", "source", "eu-west-1", "eu-west-1", "claims-eu")
	failed.Status, failed.ErrorCode = 503, "unavailable"
	record(t, l, failed)

	f := l.Frame(nil)
	want := []ui.FlowStat{
		{Source: "eu-west-1", Destination: "eu-central-1", Profile: "eu.demo.chat-small", Geographic: true, Rate: 0.1, Count: 1},
		{Source: "eu-west-1", Destination: "eu-west-1", Profile: "claims-eu", Geographic: true, Rate: 0.1, Count: 1, Errors: 1},
		{Source: "eu-west-1", Destination: "eu-west-1", Profile: "eu.demo.chat-small", Geographic: true, Rate: 0.1, Count: 1},
		{Source: "eu-west-1", Destination: "us-east-1", Profile: "global.demo.chat-small", Rate: 0.1, Count: 1},
	}
	if diff := cmp.Diff(want, f.Flows); diff != "" {
		t.Errorf("Frame().Flows mismatch (-want +got):\n%s", diff)
	}
	if got, want := f.Totals, (ui.Totals{Requests: 5, Failed: 1, Rate: 0.4}); got != want {
		t.Errorf("Frame().Totals = %+v, want %+v", got, want)
	}
	if len(f.Recent) != 5 || f.Recent[0].RequestID != "r5" || f.Recent[4].RequestID != "r1" {
		t.Errorf("Frame().Recent = %+v, want r5..r1 newest first", f.Recent)
	}
	wantCells := []ui.ResidencyCell{
		{SourceGeography: "eu", DestinationGeography: "eu", Geographic: 3},
		{SourceGeography: "eu", DestinationGeography: "us", Other: 1},
	}
	if diff := cmp.Diff(wantCells, f.Residency.Cells); diff != "" {
		t.Errorf("Frame().Residency.Cells mismatch (-want +got):\n%s", diff)
	}
	if f.Residency.Violations != 0 {
		t.Errorf("Frame().Residency.Violations = %d, want 0", f.Residency.Violations)
	}
	if got := fmt.Sprintf("%s %v", f.Profiles[len(f.Profiles)-2].Profile, f.Profiles[len(f.Profiles)-2].Destinations); got != "eu.demo.chat-small map[eu-central-1:1 eu-west-1:1]" {
		t.Errorf("Frame().Profiles: eu.demo.chat-small mix = %s", got)
	}

	// The rate covers ten seconds; the counts five minutes.
	clock.Advance(10 * time.Second)
	f = l.Frame(nil)
	if f.Totals.Rate != 0 || len(f.Flows) != 4 || f.Flows[0].Count != 1 {
		t.Errorf("after 10s: rate %v, %d flows, count %d; want rate 0, 4 flows, count 1", f.Totals.Rate, len(f.Flows), f.Flows[0].Count)
	}
	clock.Advance(291 * time.Second)
	if f := l.Frame(nil); len(f.Flows) != 0 || len(f.Recent) != 5 {
		t.Errorf("after 301s: %d flows, %d recent; want 0 flows, 5 recent", len(f.Flows), len(f.Recent))
	}
}

// TestLiveResidencyViolation feeds records that invariant 1 forbids, to
// check that the console would show them.
func TestLiveResidencyViolation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src, dst, profile string
		violation               bool
	}{
		{"geographic in its geography", "eu-west-1", "eu-central-1", "eu.demo.chat-small", false},
		{"geographic outside its geography", "eu-west-1", "us-east-1", "eu.demo.chat-small", true},
		{"application profile of a geography outside it", "eu-west-1", "ap-northeast-1", "claims-eu", true},
		{"global across geographies", "eu-west-1", "us-east-1", "global.demo.chat-small", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLive(t, tc.src, newClock(), 0)
			record(t, l, rec("r1", "source", tc.src, tc.dst, tc.profile))
			f := l.Frame(nil)
			if got := f.Residency.Violations > 0; got != tc.violation {
				t.Errorf("%s → %s with %s: Violations = %d, want violation %v", tc.src, tc.dst, tc.profile, f.Residency.Violations, tc.violation)
			}
			if len(f.Residency.Cells) != 1 || f.Residency.Cells[0].Violation != tc.violation {
				t.Errorf("%s → %s with %s: cells = %+v, want one with violation %v", tc.src, tc.dst, tc.profile, f.Residency.Cells, tc.violation)
			}
		})
	}
}

func TestLiveRingBuffer(t *testing.T) {
	t.Parallel()
	l := newLive(t, "eu-west-1", newClock(), 3)
	for i := range 5 {
		r := rec(fmt.Sprintf("r%d", i), "source", "eu-west-1", "eu-west-1", "eu.demo.chat-small")
		r.Prompt = []inference.Message{inference.TextMessage("user", "secret prompt")}
		r.Completion = "secret completion"
		record(t, l, r)
	}
	for i := range 5 {
		id := fmt.Sprintf("r%d", i)
		got, ok := l.Lookup(id)
		if want := i >= 2; ok != want {
			t.Errorf("Lookup(%s) ok = %v, want %v", id, ok, want)
		}
		if ok && (got.Prompt != nil || got.Completion != "") {
			t.Errorf("Lookup(%s) kept content: %+v", id, got)
		}
	}
	if f := l.Frame(nil); len(f.Recent) != 3 || f.Recent[0].RequestID != "r4" {
		t.Errorf("Frame().Recent = %+v, want r4, r3, r2", f.Recent)
	}
}

func TestLiveApplyPeer(t *testing.T) {
	t.Parallel()
	clock := newClock()
	l := newLive(t, "eu-west-1", clock, 0)
	state, _ := json.Marshal(map[string]any{
		"region": "us-east-1", "deployments": []any{},
		"flows": []ui.FlowStat{
			{Source: "us-east-1", Destination: "us-west-2", Profile: "us.demo.chat-small", Geographic: true, Rate: 2, Count: 40},
			// A peer speaks only for requests that entered it.
			{Source: "eu-central-1", Destination: "eu-central-1", Profile: "eu.demo.chat-small", Geographic: true, Rate: 9, Count: 9},
		},
	})
	if err := l.ApplyPeer("us-east-1", state); err != nil {
		t.Fatalf("ApplyPeer = %v", err)
	}
	if err := l.ApplyPeer("us-west-2", []byte(`{"flows": 7}`)); err == nil {
		t.Errorf("ApplyPeer(malformed) = nil, want an error")
	}
	f := l.Frame(nil)
	if len(f.Flows) != 1 || f.Flows[0].Source != "us-east-1" || f.Totals.Rate != 2 {
		t.Errorf("Frame().Flows = %+v, rate %v; want only us-east-1's flow at 2/s", f.Flows, f.Totals.Rate)
	}
	if diff := cmp.Diff([]string{"eu-west-1", "us-east-1"}, f.Reporting); diff != "" {
		t.Errorf("Frame().Reporting mismatch (-want +got):\n%s", diff)
	}
	clock.Advance(11 * time.Second)
	if f := l.Frame(nil); len(f.Flows) != 0 || len(f.Reporting) != 1 {
		t.Errorf("after the peer went quiet: flows %+v, reporting %v; want none and only this node", f.Flows, f.Reporting)
	}
}

func FuzzApplyPeer(f *testing.F) {
	f.Add([]byte(`{"region":"us-east-1","flows":[{"source":"us-east-1","destination":"us-west-2","profile":"p","rate":1,"count":3}]}`))
	f.Add([]byte(`{"flows":null}`))
	f.Add([]byte(`[]`))
	l := newLive(f, "eu-west-1", newClock(), 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		l.ApplyPeer("us-east-1", body)
		fr := l.Frame(nil)
		for _, fl := range fr.Flows {
			if fl.Source != "eu-west-1" && fl.Source != "us-east-1" {
				t.Fatalf("flow from %q accepted from peer us-east-1", fl.Source)
			}
		}
		if _, err := json.Marshal(fr); err != nil {
			t.Fatalf("frame does not encode: %v", err)
		}
	})
}

func FuzzParseAction(f *testing.F) {
	for _, s := range []string{"down", "throttle", "throttled", "restore", "normal", "", "DOWN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ui.ParseAction(s)
		if err != nil {
			return
		}
		b, err := ui.ParseAction(a.String())
		if err != nil || b != a {
			t.Fatalf("ParseAction(%q) = %v, but ParseAction(%q) = %v, %v", s, a, a.String(), b, err)
		}
	})
}

func attempt(region, outcome string, status int) gateway.Attempt {
	return gateway.Attempt{Region: region, Outcome: outcome, Status: status, Duration: 30 * time.Millisecond}
}

// TestLiveResidencyPerSource: the matrix judges residency on the set the
// source may reach, not on the profile's prefix: with eu-west-1 limited to
// itself, eu-west-1 → eu-central-1 is a violation although both are in the
// EU.
func TestLiveResidencyPerSource(t *testing.T) {
	t.Parallel()
	cfg := demoConfig(t)
	cfg.Profiles.System = map[string]topology.SystemProfile{"eu.demo.chat-small": {Sources: map[string][]string{
		"eu-west-1": {"eu-west-1"}, "eu-central-1": {"eu-central-1", "eu-west-1"}}}}
	for _, tc := range []struct {
		src, dst  string
		violation bool
	}{
		{"eu-west-1", "eu-west-1", false},
		{"eu-west-1", "eu-central-1", true},
		{"eu-central-1", "eu-west-1", false},
	} {
		l, err := ui.NewLive(ui.LiveOptions{Region: tc.src, Config: cfg, Clock: newClock()})
		if err != nil {
			t.Fatal(err)
		}
		record(t, l, rec("r1", "source", tc.src, tc.dst, "eu.demo.chat-small"))
		f := l.Frame(nil)
		if got := f.Residency.Violations > 0; got != tc.violation {
			t.Errorf("%s → %s: Violations = %d, want violation %v", tc.src, tc.dst, f.Residency.Violations, tc.violation)
		}
		if len(f.Residency.Cells) != 1 || f.Residency.Cells[0].Violation != tc.violation {
			t.Errorf("%s → %s: cells = %+v, want one with violation %v", tc.src, tc.dst, f.Residency.Cells, tc.violation)
		}
	}
}

// TestLiveKeepsNothingOfTheRequest: the ring's copy of a record shares no
// pointer with the gateway's record (its overhead and attempts are its
// own), so that it keeps the request's structures, which the gateway's
// overhead points into, unreachable once the request is done; and the copy
// still says what the record said.
func TestLiveKeepsNothingOfTheRequest(t *testing.T) {
	t.Parallel()
	l := newLive(t, "eu-west-1", newClock(), 4)
	r := rec("r1", "source", "eu-west-1", "eu-west-1", "eu.demo.chat-small")
	r.Overhead = &gateway.Overhead{Source: 3 * time.Millisecond, Upstream: 40 * time.Millisecond}
	record(t, l, r)
	got, ok := l.Lookup("r1")
	if !ok {
		t.Fatal("Lookup(r1): not found")
	}
	if got.Overhead == r.Overhead || got.Overhead == nil || *got.Overhead != *r.Overhead {
		t.Errorf("kept overhead %p %+v; want a copy of %p %+v", got.Overhead, got.Overhead, r.Overhead, *r.Overhead)
	}
	if &got.Attempts[0] == &r.Attempts[0] {
		t.Error("kept attempts share the record's array")
	}
	r.Overhead.Source, r.Attempts[0].Outcome = time.Hour, "changed"
	if again, _ := l.Lookup("r1"); again.Overhead.Source != 3*time.Millisecond || again.Attempts[0].Outcome != "ok" {
		t.Errorf("the kept record changed with the gateway's: %+v %+v", again.Overhead, again.Attempts)
	}
	// A record without overhead (nothing served) keeps none.
	n := rec("r2", "source", "eu-west-1", "", "")
	record(t, l, n)
	if got, _ := l.Lookup("r2"); got.Overhead != nil {
		t.Errorf("Lookup(r2).Overhead = %+v, want nil", got.Overhead)
	}
}

// TestLiveLookupOutlivesItsSlot: the ring's slots are reused, their
// attempts' arrays and overheads overwritten in place; a record that
// Lookup returned must not change when its slot takes a later record.
func TestLiveLookupOutlivesItsSlot(t *testing.T) {
	t.Parallel()
	l := newLive(t, "eu-west-1", newClock(), 2)
	a := rec("a", "source", "eu-west-1", "eu-west-1", "eu.demo.chat-small")
	a.Overhead = &gateway.Overhead{Source: time.Millisecond}
	record(t, l, a)
	got, ok := l.Lookup("a")
	if !ok {
		t.Fatal("Lookup(a): not found")
	}
	want := *got.Overhead
	for i := range 4 {
		r := rec(fmt.Sprintf("b%d", i), "source", "eu-west-1", "eu-west-1", "eu.demo.chat-small")
		r.Attempts[0].Outcome = "other"
		r.Overhead = &gateway.Overhead{Source: time.Hour}
		record(t, l, r)
	}
	if got.Attempts[0].Outcome != "ok" || *got.Overhead != want {
		t.Errorf("the looked-up record changed with its slot's reuse: %+v %+v", got.Attempts, *got.Overhead)
	}
	if _, ok := l.Lookup("a"); ok {
		t.Error("Lookup(a) found a record that left the ring")
	}
	// A record without attempts keeps none, in a slot that held some.
	n := rec("n", "source", "eu-west-1", "", "")
	n.Attempts = nil
	record(t, l, n)
	if got, _ := l.Lookup("n"); got.Attempts != nil || got.Overhead != nil {
		t.Errorf("Lookup(n) = %+v %+v, want no attempts, no overhead", got.Attempts, got.Overhead)
	}
}

// TestLiveRecordAllocs: every request's record goes through Record, watched
// or not; once the ring is full it reuses its slots and allocates nothing.
// Records with and without attempts (a node's own clients' and its peers'
// forwarded ones) are mixed in a ring of odd size; each run records a
// batch, so that one allocation in a batch shows (AllocsPerRun rounds
// down).
func TestLiveRecordAllocs(t *testing.T) {
	l := newLive(t, "eu-west-1", newClock(), 7)
	recs := make([]*gateway.Record, 64)
	for i := range recs {
		recs[i] = rec(fmt.Sprintf("r%d", i), "source", "eu-west-1", "eu-west-1", "eu.demo.chat-small")
		recs[i].Overhead = &gateway.Overhead{Source: time.Millisecond}
		if i%2 == 1 {
			recs[i].Side, recs[i].Attempts = "destination", nil
		}
	}
	i := 0
	batch := func() {
		for range 16 {
			_ = l.Record(context.Background(), recs[i%len(recs)])
			i++
		}
	}
	for range 8 {
		batch()
	}
	if n := testing.AllocsPerRun(200, batch); n >= 1 {
		t.Errorf("Live.Record allocates %v times per 16 records, want 0", n)
	}
}
