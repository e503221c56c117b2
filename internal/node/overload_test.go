package node

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestSustainedOverloadAnswersAtOnce: a whole geography (two EU regions of
// two slots each) under sustained overload from many concurrent callers.
// The admission queue takes only the requests whose predicted wait fits
// routing.queue.max_wait (300ms): every other caller hears 429 at once with
// a Retry-After of at least a second, never a 5xx, and no request waits in
// the queue longer than the budget (plus a generous slack for a slow
// machine). The request count is bounded; nothing is counted inside a time
// window.
func TestSustainedOverloadAnswersAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-region cluster")
	}
	const budget = 300 * time.Millisecond
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}},
		"routing:\n  queue: { max: 64, timeout: 2s, max_wait: 300ms }\n",
		withConcurrency(map[string]int{"eu-west-1": 2, "eu-central-1": 2}))

	const workers, each = 16, 6
	type answer struct {
		status     int
		retryAfter string
	}
	answers := make(chan answer, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		region := []string{"eu-west-1", "eu-central-1"}[w%2]
		wg.Go(func() {
			for range each {
				status, h, body := c.post(region, chatBody("eu.demo.chat-small", false), c.key)
				if status != 200 && status != 429 {
					t.Errorf("status %d, want 200 or 429: %s", status, body)
				}
				answers <- answer{status, h.Get("Retry-After")}
			}
		})
	}
	wg.Wait()
	close(answers)
	served, throttled := 0, 0
	for a := range answers {
		switch a.status {
		case 200:
			served++
		case 429:
			throttled++
			if ra, err := strconv.Atoi(a.retryAfter); err != nil || ra < 1 || ra > 60 {
				t.Errorf("429 with Retry-After %q, want whole seconds in 1..60", a.retryAfter)
			}
		}
	}
	if served == 0 || throttled == 0 {
		t.Fatalf("%d served, %d throttled: want both under sustained overload", served, throttled)
	}

	var queued, immediate float64
	for _, n := range c.nodes {
		m := n.Gateway().Metrics()
		families, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			if f.GetName() == "meridian_queue_rejections_total" {
				for _, mm := range f.GetMetric() {
					for _, l := range mm.GetLabel() {
						if l.GetName() == "reason" && l.GetValue() != "timeout" && l.GetValue() != "hopeless" {
							immediate += mm.GetCounter().GetValue()
						}
					}
				}
			}
			if f.GetName() != "meridian_queue_wait_seconds" {
				continue
			}
			for _, mm := range f.GetMetric() {
				h := mm.GetHistogram()
				queued += float64(h.GetSampleCount())
				// No wait beyond the budget: every observation falls in
				// the bucket of the budget plus a generous slack.
				for _, b := range h.GetBucket() {
					if b.GetUpperBound() == 5 && b.GetCumulativeCount() != h.GetSampleCount() {
						t.Errorf("%d of %d queue waits took over 5s, want none beyond the %v budget (plus slack)",
							h.GetSampleCount()-b.GetCumulativeCount(), h.GetSampleCount(), budget)
					}
				}
			}
		}
	}
	if immediate == 0 {
		t.Errorf("no request was refused at once (reasons predicted_wait, standing, full); %d throttled", throttled)
	}
	t.Logf("%d served, %d throttled (%v refused at once), %v queue waits", served, throttled, immediate, queued)

	// /meridian/v1/regions shows the profile's queue: drained now, with
	// the last predicted wait.
	resp, err := authGet(c.url("eu-west-1")+"/meridian/v1/regions", c.key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v RegionsView
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if len(v.Queues) != 1 || v.Queues[0].Profile != "eu.demo.chat-small" || v.Queues[0].Depth != 0 {
		t.Errorf("regions view queues = %+v, want eu.demo.chat-small's, drained", v.Queues)
	}
}
