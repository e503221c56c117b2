package node

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/gateway"
)

// gatedObserver is an observer (Options.Observer) that, while held,
// reports each request id on entered and waits for its release.
type gatedObserver struct {
	mu      sync.Mutex
	gate    chan struct{} // nil: not held
	entered chan string
}

func newGatedObserver() *gatedObserver { return &gatedObserver{entered: make(chan string, 16)} }

func (o *gatedObserver) Record(_ context.Context, rec *gateway.Record) error {
	o.mu.Lock()
	gate := o.gate
	o.mu.Unlock()
	if gate != nil {
		o.entered <- rec.RequestID
		<-gate
	}
	return nil
}

// hold makes Records wait until the returned release is called.
func (o *gatedObserver) hold() (release func()) {
	gate := make(chan struct{})
	o.mu.Lock()
	o.gate = gate
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		o.gate = nil
		o.mu.Unlock()
		close(gate)
	}
}

// TestAnswerGoesOutBeforeObservers: over HTTP/1.1, a client has its whole
// answer while the observers of the nodes that served it (the source's
// and, for a forwarded request, the destination's) still run; the live
// view and the telemetry flush, read right after, wait for them and find
// the request. A stream too: its last chunk (and, forwarded, the end of
// its stream on the link) does not wait for the observers.
func TestAnswerGoesOutBeforeObservers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a two-region cluster")
	}
	west, central := newGatedObserver(), newGatedObserver()
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}}, westOnlyPolicy,
		withTesterPolicies("west-only"), withObserver("eu-west-1", west), withObserver("eu-central-1", central))

	for _, tc := range []struct {
		name, source string
		stream       bool
		held         []*gatedObserver // the observers that hear of the request
	}{
		{"local", "eu-west-1", false, []*gatedObserver{west}},
		{"forwarded", "eu-central-1", false, []*gatedObserver{central, west}},
		{"local stream", "eu-west-1", true, []*gatedObserver{west}},
		{"forwarded stream", "eu-central-1", true, []*gatedObserver{central, west}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var releases []func()
			for _, o := range tc.held {
				releases = append(releases, o.hold())
			}
			answers := c.postInBackground(tc.source, chatBody("eu.demo.chat-small", tc.stream))
			var a postedAnswer
			select {
			case a = <-answers:
			case <-time.After(30 * time.Second): // hang guard
				t.Fatal("no answer while the observers were held: the answer waited for them")
			}
			if a.status != 200 || a.h.Get("X-Meridian-Inference-Region") != "eu-west-1" {
				t.Fatalf("status %d, inference region %q: %s", a.status, a.h.Get("X-Meridian-Inference-Region"), a.body)
			}
			id := a.h.Get(gateway.HeaderRequestID)
			for _, o := range tc.held {
				if got := <-o.entered; got != id {
					t.Fatalf("observer entered for %q, want %q", got, id)
				}
			}
			// A reader that starts now waits for the held observers: the
			// live view's lookup, then a telemetry flush.
			src := c.nodes[tc.source]
			looked := make(chan error, 1)
			go func() {
				if _, ok := src.live.Lookup(id); !ok {
					looked <- fmt.Errorf("the live view of %s does not know request %s", tc.source, id)
					return
				}
				looked <- src.FlushTelemetry(context.Background())
			}()
			deadline := time.Now().Add(30 * time.Second) // hang guard
			for !src.observing.Waiting() {
				if time.Now().After(deadline) {
					t.Fatal("the reader did not wait for the held observers")
				}
				runtime.Gosched()
			}
			select {
			case err := <-looked:
				t.Fatalf("the reader returned while the observers were held (%v)", err)
			default:
			}
			for _, release := range releases {
				release()
			}
			if err := <-looked; err != nil {
				t.Fatal(err)
			}
			// A scrape counts it among the GenAI histograms' requests.
			if n := genAIRequests(t, src); n < 1 {
				t.Fatalf("gen_ai_server_request_duration_seconds counts %d requests at %s, want at least 1", n, tc.source)
			}
		})
	}
}

// westOnlyPolicy lets the tester run EU profiles in eu-west-1 only, so that
// eu-central-1 forwards.
const westOnlyPolicy = `policies:
  west-only:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/eu.*", "arn:aws:bedrock:eu-west-1::foundation-model/*"]
`

// genAIRequests is the count of gen_ai_server_request_duration_seconds at
// n, over every series.
func genAIRequests(t *testing.T, n *Node) uint64 {
	t.Helper()
	families, err := n.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for _, f := range families {
		if f.GetName() == "gen_ai_server_request_duration_seconds" {
			for _, m := range f.GetMetric() {
				total += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return total
}

// TestAnswerFlushedWhenTheWorkerCannotTake: when the observing worker
// cannot take a request's observations (here: closed, as during a
// shutdown; a full queue takes the same path), the handler runs them
// itself, but only after flushing an answer that the flush completes: the
// client has its whole answer while the observer is still held.
func TestAnswerFlushedWhenTheWorkerCannotTake(t *testing.T) {
	c, west := startWorkerless(t)
	answers := c.postInBackground("eu-west-1", chatBody("eu.demo.chat-small", false))
	id := <-west.entered // the handler runs the observer itself
	var a postedAnswer
	select {
	case a = <-answers:
	case <-time.After(30 * time.Second): // hang guard
		t.Fatal("no answer while the handler's own observer run was held: the answer waited for it")
	}
	if a.status != 200 || a.h.Get(gateway.HeaderRequestID) != id {
		t.Fatalf("status %d, request %q (observer heard of %q): %s", a.status, a.h.Get(gateway.HeaderRequestID), id, a.body)
	}
}

// startWorkerless starts one node whose observing worker is closed (as
// during a shutdown; a full queue takes the same path), so that handlers
// run the observers themselves, and holds its observer until the test
// ends.
func startWorkerless(t *testing.T) (*cluster, *gatedObserver) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a node")
	}
	west := newGatedObserver()
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "", withObserver("eu-west-1", west))
	if err := c.nodes["eu-west-1"].observing.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(west.hold())
	return c, west
}

// postedAnswer is an answer that a test receives while it holds
// something the answer must not wait for.
type postedAnswer struct {
	status int
	h      http.Header
	body   []byte
}

// postInBackground posts body with the cluster's key to region's node
// and returns where its answer arrives.
func (c *cluster) postInBackground(region, body string) <-chan postedAnswer {
	answers := make(chan postedAnswer, 1)
	go func() {
		status, h, b := c.post(region, body, c.key)
		answers <- postedAnswer{status, h, b}
	}()
	return answers
}

// TestStreamEndFlushedWhenTheWorkerCannotTake: as above for a Chat
// stream, whose last events ([DONE] included) are written without a flush
// of their own, to end with the body in one write: when the handler runs
// the observers itself, it flushes them first, so the client reads [DONE]
// while the observer is still held (before, [DONE] waited for the
// observers, as the chunked end does).
func TestStreamEndFlushedWhenTheWorkerCannotTake(t *testing.T) {
	c, west := startWorkerless(t)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("POST", c.url("eu-west-1")+"/v1/chat/completions", strings.NewReader(chatBody("eu.demo.chat-small", true)))
		req.Header.Set("Authorization", "Bearer "+c.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() == "data: [DONE]" {
				done <- nil
				return
			}
		}
		done <- fmt.Errorf("stream ended without [DONE] (status %d): %v", resp.StatusCode, sc.Err())
	}()
	<-west.entered // the handler runs the observer itself
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // hang guard
		t.Fatal("no [DONE] while the handler's own observer run was held: the stream's end waited for it")
	}
}
