package node

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// TestSustainedOverloadAnswersAtOnce: a whole geography (two EU regions of
// two slots each) under sustained overload. The admission queue takes only
// the requests whose predicted wait fits routing.queue.max_wait: every
// other caller hears 429 at once, with a Retry-After of at least a second,
// never a 5xx; and no request waits in the queue beyond the budget.
//
// Time is two manual clocks: the nodes' (queue deadlines, predictions,
// cooldowns) and the upstreams' (mockllm's pacing), so the test decides
// when slots free and when the budget passes, and "at once" is exact: the
// refusals come while neither clock moves. Requests over capacity are sent
// one at a time, each until it is queued or answered, so the outcome does
// not depend on how the machine schedules them. One thing does: whether
// eu-west-1 holds eu-central-1's load snapshot from the link's first probe
// (taken before the slots filled, so it shows them free). If it does, the
// first request over capacity is forwarded and refused there (429, a
// cooldown), and the predictions that follow count that cooldown; the
// assertions hold either way.
func TestSustainedOverloadAnswersAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-region cluster")
	}
	const (
		budget = 1200 * time.Millisecond
		over   = 8 // requests sent over capacity
	)
	nodes, upstream := clock.NewManual(time.Now()), clock.NewManual(time.Now()) // near the wall clock: the link's certificates are checked on it
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}},
		"routing:\n  queue: { max: 64, timeout: 2s, max_wait: 1200ms }\n",
		withConcurrency(map[string]int{"eu-west-1": 2, "eu-central-1": 2}), withClocks(nodes, upstream))
	src := c.nodes["eu-west-1"]
	queue := src.Gateway().Routing().Queue
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer cancel()

	type reply struct {
		status int
		h      http.Header
		body   []byte
	}
	send := func() <-chan reply {
		ch := make(chan reply, 1)
		go func() {
			st, h, b := c.post("eu-west-1", chatBody("eu.demo.chat-small", false), c.key)
			ch <- reply{st, h, b}
		}()
		return ch
	}
	answer := func(what string, ch <-chan reply) reply {
		t.Helper()
		select {
		case r := <-ch:
			return r
		case <-ctx.Done():
			t.Fatalf("%s: no answer", what)
			return reply{}
		}
	}

	// Four requests take the geography's four slots: each holds its
	// upstream's timer, which only the upstream clock fires.
	var held []<-chan reply
	for i := range 4 {
		held = append(held, send())
		if err := upstream.WaitTimers(ctx, i+1); err != nil {
			t.Fatalf("request %d did not reach an upstream: %v", i, err)
		}
	}

	// Over capacity, a request either joins the queue or hears 429.
	var waiting []<-chan reply
	refused := 0
	for i := range over {
		ch := send()
		qctx, stop := context.WithCancel(ctx)
		joined := make(chan error, 1)
		go func() { joined <- queue.AwaitLen(qctx, len(waiting)+1) }()
		select {
		case err := <-joined:
			if err != nil {
				t.Fatalf("request %d over capacity: neither queued nor answered: %v", i, err)
			}
			waiting = append(waiting, ch)
		case r := <-ch:
			refused++
			if r.status != http.StatusTooManyRequests {
				t.Errorf("request %d over capacity: %d %s, want 429 at once", i, r.status, r.body)
			}
			if ra, err := strconv.Atoi(r.h.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
				t.Errorf("request %d over capacity: 429 with Retry-After %q, want whole seconds in 1..60", i, r.h.Get("Retry-After"))
			}
		}
		stop()
	}
	t.Logf("over capacity: %d queued, %d refused at once; rejections %v", len(waiting), refused, rejections(t, src))
	if len(waiting) == 0 || refused == 0 {
		t.Fatalf("%d queued, %d refused: want both under sustained overload", len(waiting), refused)
	}
	if got := rejections(t, src)[rejectPredicted]; got == 0 {
		t.Errorf("no refusal for a predicted wait over the budget (rejections %v)", rejections(t, src))
	}

	// The budget passes with every slot still held: the queue is empty at
	// its deadline, its requests answered 429, none having waited longer.
	nodes.Advance(budget)
	if err := queue.AwaitLen(ctx, 0); err != nil {
		t.Fatalf("at the budget: %v", err)
	}
	for i, ch := range waiting {
		if r := answer("a queued request at its budget", ch); r.status != http.StatusTooManyRequests {
			t.Errorf("queued request %d at its budget: %d %s, want 429", i, r.status, r.body)
		}
	}
	// The histogram counts stints in the queue: a queued request that is
	// woken and finds no slot queues again with its first deadline
	// (admitQueued in internal/gateway/overload.go), so it may leave two,
	// the first of 0 s, the nodes' clock not having moved then. Either way
	// each queued request waited exactly its budget in all.
	if n, sum := queueWaits(t, src); n < uint64(len(waiting)) || sum != float64(len(waiting))*budget.Seconds() {
		t.Errorf("queue waits: %d summing to %vs, want %d requests waiting the %v budget each", n, sum, len(waiting), budget)
	}

	// The slots free: the held requests are served.
	upstream.Advance(time.Minute)
	for i, ch := range held {
		if r := answer("a held request", ch); r.status != 200 {
			t.Errorf("held request %d: %d %s, want 200", i, r.status, r.body)
		}
	}

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
	if len(v.Queues) != 1 || v.Queues[0].Profile != "eu.demo.chat-small" || v.Queues[0].Depth != 0 || v.Queues[0].PredictedWait <= 0 {
		t.Errorf("regions view queues = %+v, want eu.demo.chat-small's, drained, with a predicted wait", v.Queues)
	}
}

// rejectPredicted is meridian_queue_rejections_total's reason for a
// predicted wait over the budget.
const rejectPredicted = "predicted_wait"

// rejections returns n's meridian_queue_rejections_total by reason.
func rejections(t *testing.T, n *Node) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range family(t, n, "meridian_queue_rejections_total") {
		for _, l := range m.GetLabel() {
			if l.GetName() == "reason" {
				out[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// queueWaits returns the count and sum (seconds) of n's
// meridian_queue_wait_seconds.
func queueWaits(t *testing.T, n *Node) (uint64, float64) {
	t.Helper()
	var count uint64
	var sum float64
	for _, m := range family(t, n, "meridian_queue_wait_seconds") {
		count += m.GetHistogram().GetSampleCount()
		sum += m.GetHistogram().GetSampleSum()
	}
	return count, sum
}

func family(t *testing.T, n *Node, name string) []*dto.Metric {
	t.Helper()
	families, err := n.Gateway().Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}
