package node

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// TestRefusedRecordsBounded: each peer's refusals are remembered up to
// maxRefusedPerPeer (the memory never starts over, so nothing is logged
// twice), one peer's flood does not evict another's, and refusals beyond
// the bound are counted and summarised at most once per
// refusedSummaryEvery.
func TestRefusedRecordsBounded(t *testing.T) {
	t.Parallel()
	var r refusedRecords
	t0 := forgedT0
	for i := range maxRefusedPerPeer {
		if first, sum := r.first("us-east-1", fmt.Sprint(i), t0); !first || sum != 0 {
			t.Fatalf("refusal %d: first %v, summary %d", i, first, sum)
		}
	}
	if first, _ := r.first("eu-west-1", "x", t0); !first {
		t.Errorf("another peer's first refusal is not logged")
	}
	steps := []struct {
		key       string
		at        time.Duration
		wantFirst bool
		wantSum   int
	}{
		{"0", 0, false, 0},                       // remembered: never again
		{"new-1", 0, false, 1},                   // beyond the bound: the first summary
		{"new-2", time.Minute, false, 0},         // counted
		{"new-3", 2 * time.Minute, false, 0},     // counted
		{"new-4", refusedSummaryEvery, false, 3}, // the next summary, not before
		{fmt.Sprint(maxRefusedPerPeer - 1), refusedSummaryEvery, false, 0},
	}
	for _, s := range steps {
		first, sum := r.first("us-east-1", s.key, t0.Add(s.at))
		if first != s.wantFirst || sum != s.wantSum {
			t.Errorf("first(%s at +%v) = %v, %d; want %v, %d", s.key, s.at, first, sum, s.wantFirst, s.wantSum)
		}
	}
}

// TestProfileLogsBounded: a record the catalog leaves out is logged once,
// not again on every later registry change, and a peer's flood of
// refused records with huge ids logs bounded lines, a bounded number of
// them.
func TestProfileLogsBounded(t *testing.T) {
	t.Parallel()
	n, logs := forgedNode(t, "eu-central-1", clock.NewManual(forgedT0.Add(time.Hour)))
	gone := euTeam
	gone.ID, gone.Name, gone.CopyFrom = "unservable01", "unservable", "demo.chat-gone"
	publish(n, "eu-west-1", gone)
	if c := strings.Count(logs.String(), "application profile not applied"); c != 1 {
		t.Fatalf("a record left out logged %d times, want 1:\n%s", c, logs)
	}
	for i := range 3 {
		r := euTeam
		r.ID, r.Name = fmt.Sprintf("servable%04d", i), fmt.Sprint("s", i)
		publish(n, "eu-west-1", gone, r)
	}
	if c := strings.Count(logs.String(), "application profile not applied"); c != 1 {
		t.Errorf("a record left out logged %d times after later changes, want 1:\n%s", c, logs)
	}

	logs.Reset()
	var flood []profile.Record
	for i := range 2 * maxRefusedPerPeer {
		r := euTeam
		r.ID = fmt.Sprintf("%d-%s", i, strings.Repeat("x", 10000))
		flood = append(flood, r)
	}
	for range 3 {
		publish(n, "us-east-1", flood...)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) > maxRefusedPerPeer+2 {
		t.Errorf("a flood of %d refused records, published 3 times, logged %d lines", len(flood), len(lines))
	}
	for _, l := range lines {
		if len(l) > 2000 {
			t.Fatalf("a log line of %d bytes: %.200s…", len(l), l)
		}
	}
}
