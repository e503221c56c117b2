package inference

import "testing"

type readyStream bool

func (r readyStream) Recv() (Event, error) { return Event{}, nil }
func (r readyStream) Close() error         { return nil }
func (r readyStream) Ready() bool          { return bool(r) }

// TestBurstBound walks a relay through a burst of events that are all
// here: each flush gathers at most BurstMaxEvents, and a stream found idle
// is flushed at once.
func TestBurstBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ready []bool // Ready before each event's Recv; an event is written after each
		want  []int  // events gathered by each flush
	}{
		{"paced", []bool{false, false, false, false}, []int{1, 1, 1}},
		{"burst", burst(35), []int{16, 16}},
		{"burst after a pause", append([]bool{false, false}, burst(20)...), []int{1, 16}},
		{"short burst", []bool{false, true, true, true, false}, []int{4}},
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

func burst(n int) []bool {
	r := make([]bool, n)
	for i := range r {
		r[i] = true
	}
	return r
}
