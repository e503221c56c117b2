package routing_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/routing/routingtest"
)

// TestQueuePriorityLane: priority waiters are woken before every waiter
// that is not, in FIFO order within each lane; a default waiter that
// re-waits at the front keeps the head of the default lane, behind the
// priority lane. Waiters enter one at a time, so the order is the
// queue's, not the scheduler's.
func TestQueuePriorityLane(t *testing.T) {
	t.Parallel()
	type entry struct {
		name string
		o    routing.WaitOptions
	}
	def := func(n string) entry { return entry{n, routing.WaitOptions{}} }
	prio := func(n string) entry { return entry{n, routing.WaitOptions{Priority: true}} }
	tests := []struct {
		name    string
		entries []entry
		want    []string
	}{
		{"default only: FIFO", []entry{def("d1"), def("d2"), def("d3")}, []string{"d1", "d2", "d3"}},
		{"priority overtakes default", []entry{def("d1"), def("d2"), prio("p1"), def("d3"), prio("p2")}, []string{"p1", "p2", "d1", "d2", "d3"}},
		{"default front stays behind priority", []entry{prio("p1"), def("d1"), {"d0", routing.WaitOptions{Front: true}}}, []string{"p1", "d0", "d1"}},
		{"priority front goes first", []entry{prio("p1"), def("d1"), {"p0", routing.WaitOptions{Front: true, Priority: true}}}, []string{"p0", "p1", "d1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := routingtest.NewClock(t0)
			q := routing.NewQueue(len(tc.entries), clk)
			woken := make(chan string, len(tc.entries))
			for i, e := range tc.entries {
				go func() {
					if err := q.WaitWith(t.Context(), time.Minute, e.o); err != nil {
						woken <- fmt.Sprintf("%s: %v", e.name, err)
						return
					}
					woken <- e.name
				}()
				awaitLen(t, q, i+1)
			}
			var got []string
			for range tc.entries {
				q.Notify() // one key: wakes the head only
				got = append(got, <-woken)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("woken in order %v, want %v", got, tc.want)
			}
		})
	}
}
