package inference

import "testing"

type readyStream bool

func (r readyStream) Recv() (Event, error) { return Event{}, nil }
func (r readyStream) Close() error         { return nil }
func (r readyStream) Ready() bool          { return bool(r) }

// TestBurstBound walks a relay through a burst of events that are all
// here: the first is flushed alone, each later flush gathers twice as many
// up to BurstMaxEvents, and a stream found idle flushes every event and
// starts the next burst over.
func TestBurstBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ready []bool // Ready before each event's Recv; an event is written after each
		want  []int  // events gathered by each flush
	}{
		{"paced", []bool{false, false, false, false}, []int{1, 1, 1}},
		{"burst", []bool{true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true}, []int{1, 2, 4, 8, 8, 8}},
		{"burst after a pause", []bool{false, true, true, true, false, true, true, true, true}, []int{1, 2, 1, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b Burst
			var got []int
			written := 0
			for i, r := range tc.ready {
				if !b.Hold(readyStream(r)) && (i > 0) {
					got = append(got, written)
					written = 0
				}
				if i < len(tc.ready) {
					b.Wrote()
					written++
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("flushes gathered %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("flushes gathered %v, want %v", got, tc.want)
				}
			}
		})
	}
}
