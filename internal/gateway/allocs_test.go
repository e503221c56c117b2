package gateway

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// countingReservation counts its settlements and checks that the gateway
// hands it a context it may keep using: never cancelled.
type countingReservation struct {
	commits, releases int
	cancelled         bool
}

func (r *countingReservation) Commit(ctx context.Context, _ inference.Usage) error {
	r.commits++
	r.cancelled = r.cancelled || ctx.Err() != nil || ctx.Done() != nil
	return nil
}

func (r *countingReservation) Release(ctx context.Context) error {
	r.releases++
	r.cancelled = r.cancelled || ctx.Err() != nil || ctx.Done() != nil
	return nil
}

func (r *countingReservation) Header() http.Header { return nil }

// TestRequestPathAllocs pins steps of every request that used to allocate
// for nothing: settling a reservation (a context with a timer of its own,
// though the reservation bounds its own wait), reading the caller's
// queue budget (a header key canonicalised per request), the status label
// of the request metrics (strconv.Itoa of a code above 99).
func TestRequestPathAllocs(t *testing.T) {
	res := &countingReservation{}
	usage := &inference.Usage{InputTokens: 3, OutputTokens: 5}
	h := http.Header{}
	h.Set(HeaderMaxQueueWait, "250ms")
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"settle/commit", func() { settle(res, usage) }},
		{"settle/release", func() { settle(res, nil) }},
		{"MaxQueueWait", func() { MaxQueueWait(h) }},
		{"statusLabel", func() { _ = statusLabel(200) + statusLabel(429) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(100, tc.f); n != 0 {
				t.Errorf("%s allocates %v times, want 0", tc.name, n)
			}
		})
	}
	if res.commits == 0 || res.releases == 0 || res.cancelled {
		t.Errorf("settle: %d commits, %d releases, cancellable context %v; want both called, never cancellable", res.commits, res.releases, res.cancelled)
	}
	for _, c := range []int{0, 99, 100, 200, 429, 599, 600, 1000, -1} {
		if got, want := statusLabel(c), strconv.Itoa(c); got != want {
			t.Errorf("statusLabel(%d) = %q, want %q", c, got, want)
		}
	}
	if got := MaxQueueWait(h); got.String() != "250ms" {
		t.Errorf("MaxQueueWait = %v, want 250ms", got)
	}
}
