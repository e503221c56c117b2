package gateway

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/routing/routingtest"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// engineTopology has three EU regions and one US region serving m; the
// source is eu-west-1. Routing settings are appended per test.
const engineTopology = `account: "111122223333"
geographies: { eu: { name: EU }, us: { name: US } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: eu-central-1, geography: eu, location: { lat: 50, lon: 8 }, listen: "127.0.0.1:3", link: "127.0.0.1:4" }
  - { id: eu-north-1, geography: eu, location: { lat: 59, lon: 18 }, listen: "127.0.0.1:5", link: "127.0.0.1:6" }
  - { id: us-east-1, geography: us, location: { lat: 38, lon: -77 }, listen: "127.0.0.1:7", link: "127.0.0.1:8" }
models: [ { id: m } ]
deployments:
  - { model: m, region: eu-west-1, backend: { type: mock } }
  - { model: m, region: eu-central-1, backend: { type: mock } }
  - { model: m, region: eu-north-1, backend: { type: mock } }
  - { model: m, region: us-east-1, backend: { type: mock } }
principals: [ { id: p } ]
`

var euRegionsOfM = []string{"eu-west-1", "eu-central-1", "eu-north-1"}

// regionBackends serves m in every region with one function the test
// sets, counting the attempts each region receives.
type regionBackends struct {
	mu       sync.Mutex
	attempts map[string]int
	order    []string
	down     map[string]bool // peers whose node does not answer
	serve    func(ctx context.Context, region string, n int, req *inference.Request) (*inference.Response, inference.Stream, error)
}

func (b *regionBackends) run(ctx context.Context, region string, req *inference.Request) (*inference.Response, inference.Stream, error) {
	b.mu.Lock()
	b.attempts[region]++
	b.order = append(b.order, region)
	n := len(b.order)
	serve := b.serve
	b.mu.Unlock()
	if serve == nil {
		return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok")}, newFakeStream(ctx, false, streamEvents()...), nil
	}
	return serve(ctx, region, n, req)
}

func (b *regionBackends) count(region string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.attempts[region]
}

func (b *regionBackends) tried() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.order)
}

// regionExecutor is one region's node (or, for the source, its backend).
type regionExecutor struct {
	b      *regionBackends
	region string
}

func (e regionExecutor) Complete(ctx context.Context, job *Job) (*inference.Response, error) {
	if job.DestinationRegion != e.region {
		panic("job for " + job.DestinationRegion + " sent to " + e.region)
	}
	resp, _, err := e.b.run(ctx, e.region, job.Request)
	return resp, err
}

func (e regionExecutor) Stream(ctx context.Context, job *Job) (inference.Stream, error) {
	_, s, err := e.b.run(ctx, e.region, job.Request)
	return s, err
}

func (e regionExecutor) complete(ctx context.Context, req *inference.Request) (*inference.Response, error) {
	resp, _, err := e.b.run(ctx, e.region, req)
	return resp, err
}

func (e regionExecutor) stream(ctx context.Context, req *inference.Request) (inference.Stream, error) {
	_, s, err := e.b.run(ctx, e.region, req)
	return s, err
}

func (b *regionBackends) Executor(region string) Executor {
	return regionExecutor{b: b, region: region}
}

func (b *regionBackends) PeerHealthy(region string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.down[region]
}

// engine is a gateway in eu-west-1 over regionBackends, with a manual
// clock, a fake quota and a recorder.
type engine struct {
	g         *Gateway
	cfg       *topology.Config
	clock     *routingtest.Clock
	b         *regionBackends
	quota     *fakeQuota
	recorder  *fakeRecorder
	principal auth.Principal
	throttles []routing.Key
	sharp     int
	mu        sync.Mutex
}

func newEngine(t *testing.T, extra string) *engine {
	t.Helper()
	return newEngineWith(t, engineTopology, extra)
}

func newEngineWith(t *testing.T, topo, extra string) *engine {
	t.Helper()
	cfg, err := topology.Parse([]byte(topo+extra), "engine.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e := &engine{cfg: cfg, clock: routingtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		b: &regionBackends{attempts: map[string]int{}, down: map[string]bool{}}, recorder: &fakeRecorder{}, quota: newFakeQuota(cfg)}
	rt, err := NewRouting(cfg, "eu-west-1", e.clock)
	if err != nil {
		t.Fatal(err)
	}
	local := regionExecutor{b: e.b, region: "eu-west-1"}
	e.g, err = New(Options{Region: "eu-west-1", Config: cfg, Routing: rt, Quota: e.quota, Authorizer: AllowAll{}, Recorder: e.recorder,
		Clock: e.clock, Backends: map[string]Backend{"m": &fakeBackend{complete: local.complete, stream: local.stream}}, Link: e.b,
		OnThrottle:    func(k routing.Key, _ time.Duration) { e.mu.Lock(); e.throttles = append(e.throttles, k); e.mu.Unlock() },
		OnSharpChange: func() { e.mu.Lock(); e.sharp++; e.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	var ok bool
	if e.principal, ok = e.g.Authenticator().Principal("p"); !ok {
		t.Fatal("principal p not found")
	}
	return e
}

func (e *engine) invoke(t *testing.T, id string, stream bool) (*Outcome, error) {
	t.Helper()
	return e.g.Invoke(t.Context(), &Call{RequestID: id, Operation: OpChatCompletions, Principal: e.principal,
		Request: &inference.Request{Model: "eu.m", Stream: stream, Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hello")}}})
}

// records returns how many records the recorder holds.
func (e *engine) records() int {
	e.recorder.mu.Lock()
	defer e.recorder.mu.Unlock()
	return len(e.recorder.recs)
}

func drain(t *testing.T, out *Outcome) error {
	t.Helper()
	defer out.Stream.Close()
	for {
		if _, err := out.Stream.Recv(); err != nil {
			if strings.Contains(err.Error(), "EOF") {
				return nil
			}
			return err
		}
	}
}

func unavailable(region string) error {
	return &inference.Error{Kind: inference.KindUnavailable, UpstreamStatus: 503, Message: region + " is down"}
}

// TestFailoverBeforeFirstByte: a destination that fails before the first
// byte is left for the next candidate of the profile, streaming or not;
// the route says why, and the request has exactly one record.
func TestFailoverBeforeFirstByte(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{false, true} {
		e := newEngine(t, "")
		e.b.serve = func(ctx context.Context, region string, n int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
			if n == 1 {
				return nil, nil, unavailable(region)
			}
			return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok")}, newFakeStream(ctx, false, streamEvents()...), nil
		}
		out, err := e.invoke(t, "r", stream)
		if err != nil {
			t.Fatalf("stream=%v: Invoke = %v, want served by the next destination", stream, err)
		}
		if stream {
			if err := drain(t, out); err != nil {
				t.Fatalf("stream=%v: %v", stream, err)
			}
		}
		tried := e.b.tried()
		if len(tried) != 2 || tried[0] == tried[1] || out.Route.InferenceRegion != tried[1] {
			t.Fatalf("stream=%v: tried %v, served in %s; want two distinct regions, served in the second", stream, tried, out.Route.InferenceRegion)
		}
		for _, r := range tried {
			if !slices.Contains(euRegionsOfM, r) {
				t.Errorf("stream=%v: tried %s, outside the eu. profile", stream, r)
			}
		}
		if want := "failover:unavailable:" + tried[0]; out.Route.Reason != want {
			t.Errorf("stream=%v: route reason %q, want %q", stream, out.Route.Reason, want)
		}
		if n := e.records(); n != 1 {
			t.Errorf("stream=%v: %d records, want exactly 1", stream, n)
		}
		if rec := e.recorder.last(t); rec.Status != 200 || rec.InferenceRegion != tried[1] || len(rec.Attempts) != 2 {
			t.Errorf("stream=%v: record status %d region %s attempts %+v, want 200 in %s after 2 attempts", stream, rec.Status, rec.InferenceRegion, rec.Attempts, tried[1])
		}
	}
}

// TestNoFailoverAfterFirstByte: once a stream's first event is out, an
// error is reported in-stream; no other destination is tried
// (invariant 3), and the record says the stream failed.
func TestNoFailoverAfterFirstByte(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "")
	broken := errors.New("connection reset")
	e.b.serve = func(ctx context.Context, region string, n int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
		s := newFakeStream(ctx, false, streamEvents()[:2]...)
		s.end = &inference.Error{Kind: inference.KindUpstream, Message: "the model broke off", Err: broken}
		return nil, s, nil
	}
	out, err := e.invoke(t, "r", true)
	if err != nil {
		t.Fatalf("Invoke = %v, want the stream", err)
	}
	if err := drain(t, out); !errors.Is(err, broken) {
		t.Fatalf("stream ended with %v, want the in-stream error", err)
	}
	if tried := e.b.tried(); len(tried) != 1 {
		t.Errorf("tried %v after the first byte, want one destination only", tried)
	}
	rec := e.recorder.last(t)
	if e.records() != 1 || rec.ErrorCode != "stream_"+inference.KindUpstream.String() || rec.Status != 200 {
		t.Errorf("%d records, last status %d error %q; want one record, 200 with stream_%s", e.records(), rec.Status, rec.ErrorCode, inference.KindUpstream)
	}
}

// TestMaxAttempts: no more destinations are tried than max_attempts, and
// the error names what each attempt met.
func TestMaxAttempts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		extra   string
		want    int
		profile string
	}{
		{"default 3", "", 3, ""},
		{"routing.max_attempts 2", "routing: { max_attempts: 2 }\n", 2, ""},
		{"routing.max_attempts 1", "routing: { max_attempts: 1 }\n", 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, tc.extra)
			e.b.serve = func(_ context.Context, region string, _ int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
				return nil, nil, unavailable(region)
			}
			_, err := e.invoke(t, "r", false)
			ie := inference.AsError(err)
			if ie.Kind != inference.KindUnavailable {
				t.Fatalf("Invoke = %v, want 503", err)
			}
			tried := e.b.tried()
			if len(tried) != tc.want {
				t.Errorf("tried %v, want %d attempts", tried, tc.want)
			}
			for _, r := range tried {
				if !strings.Contains(ie.Message, r+" unavailable") {
					t.Errorf("error %q does not name %s's attempt", ie.Message, r)
				}
			}
			if e.records() != 1 {
				t.Errorf("%d records, want 1", e.records())
			}
		})
	}
}

// TestFailoverDeadline: once failover_deadline has passed since the first
// attempt began, no further destination is tried.
func TestFailoverDeadline(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "routing: { failover_deadline: 2s }\n")
	e.b.serve = func(_ context.Context, region string, _ int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
		e.clock.Advance(2 * time.Second) // the attempt takes the whole budget
		return nil, nil, &inference.Error{Kind: inference.KindTimeout, Message: "the model did not answer in time"}
	}
	_, err := e.invoke(t, "r", false)
	if got := inference.AsError(err).Kind; got != inference.KindTimeout {
		t.Errorf("Invoke = %v, want 408 (every attempt timed out)", err)
	}
	if tried := e.b.tried(); len(tried) != 1 {
		t.Errorf("tried %v, want a single attempt within a 2s failover deadline", tried)
	}
}

// TestRetryAfterCoolsTheDestination: a destination answering 429 with
// Retry-After: 5s gets no request for 5 s; then a single probe. The
// cooldown is shared (OnThrottle) and published (OnSharpChange).
func TestRetryAfterCoolsTheDestination(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "")
	throttled := ""
	e.b.serve = func(ctx context.Context, region string, n int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
		if n == 1 {
			throttled = region
		}
		if region == throttled {
			return nil, nil, &inference.Error{Kind: inference.KindThrottled, RetryAfter: 5 * time.Second, UpstreamStatus: 429, Message: "slow down"}
		}
		return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok")}, nil, nil
	}
	if _, err := e.invoke(t, "first", false); err != nil {
		t.Fatalf("first Invoke = %v, want served by the next destination", err)
	}
	if e.b.count(throttled) != 1 {
		t.Fatalf("%s received %d attempts, want 1", throttled, e.b.count(throttled))
	}
	for i := range 20 {
		e.clock.Advance(200 * time.Millisecond) // 4 s in all
		if _, err := e.invoke(t, "during", false); err != nil {
			t.Fatalf("request %d during the cooldown: %v", i, err)
		}
	}
	if got := e.b.count(throttled); got != 1 {
		t.Errorf("%s received %d attempts during its Retry-After: 5s, want none after the first", throttled, got-1)
	}
	e.clock.Advance(1100 * time.Millisecond) // past the cooldown
	for range 10 {
		e.invoke(t, "after", false)
	}
	if got := e.b.count(throttled) - 1; got != 1 {
		t.Errorf("%s received %d attempts after its cooldown, want exactly 1 probe (it is still throttled)", throttled, got)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.throttles) == 0 || e.throttles[0] != (routing.Key{Region: throttled, Model: "m"}) {
		t.Errorf("OnThrottle saw %v, want %s/m", e.throttles, throttled)
	}
	if throttled == "eu-west-1" && e.sharp == 0 {
		t.Error("OnSharpChange not called for a throttled local deployment")
	}
}

// TestEveryDestinationThrottledIs429: when every attempt meets a 429, the
// caller gets 429 with the soonest Retry-After, not a 503.
func TestEveryDestinationThrottledIs429(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "")
	e.b.serve = func(context.Context, string, int, *inference.Request) (*inference.Response, inference.Stream, error) {
		return nil, nil, &inference.Error{Kind: inference.KindThrottled, RetryAfter: 3 * time.Second, UpstreamStatus: 429, Message: "slow down"}
	}
	_, err := e.invoke(t, "r", false)
	if ie := inference.AsError(err); ie.Kind != inference.KindThrottled || ie.RetryAfter != 3*time.Second {
		t.Errorf("Invoke = %v (Retry-After %v), want 429 with Retry-After 3s", err, ie.RetryAfter)
	}
	// Every destination is cooling down now: the next caller is told
	// when to come back, without an attempt.
	before := len(e.b.tried())
	_, err = e.invoke(t, "again", false)
	if ie := inference.AsError(err); ie.Kind != inference.KindThrottled || ie.RetryAfter < time.Second {
		t.Errorf("Invoke while every destination cools down = %v, want 429 with Retry-After", err)
	}
	if len(e.b.tried()) != before {
		t.Errorf("a destination in cooldown was tried: %v", e.b.tried()[before:])
	}
	if e.records() != 2 {
		t.Errorf("%d records for 2 requests", e.records())
	}
}

// TestEveryDestinationFailingIs503: when every destination failed (5xx),
// the next caller is told the service is unavailable (503 with the
// cooldown's Retry-After), not throttled: an SDK retries an outage and a
// throttle differently, and the message says the regions failed.
func TestEveryDestinationFailingIs503(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "")
	e.b.serve = func(_ context.Context, region string, _ int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
		return nil, nil, unavailable(region)
	}
	if _, err := e.invoke(t, "r", false); inference.AsError(err).Kind != inference.KindUnavailable {
		t.Fatalf("Invoke with every destination failing = %v, want 503", err)
	}
	// The failures' cooldown is short enough to queue for; this caller
	// does not wait (the clock is a test's), so it is told now.
	before := len(e.b.tried())
	_, err := e.g.Invoke(t.Context(), &Call{RequestID: "again", Operation: OpChatCompletions, Principal: e.principal, MaxQueueWait: NoQueueWait,
		Request: &inference.Request{Model: "eu.m", Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hello")}}})
	ie := inference.AsError(err)
	if ie.Kind != inference.KindUnavailable || ie.RetryAfter < time.Second || !strings.Contains(ie.Message, "after failures") {
		t.Errorf("Invoke while every destination cools down after failures = %v (Retry-After %v), want 503 naming the failures with Retry-After", err, ie.RetryAfter)
	}
	if len(e.b.tried()) != before {
		t.Errorf("a destination in cooldown was tried: %v", e.b.tried()[before:])
	}
}

// TestPeerDownIsSkipped: a peer whose node does not answer is not tried;
// the request is served elsewhere in the geography.
func TestPeerDownIsSkipped(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "")
	e.b.down["eu-central-1"], e.b.down["eu-north-1"] = true, true
	for range 5 {
		out, err := e.invoke(t, "r", false)
		if err != nil || out.Route.InferenceRegion != "eu-west-1" {
			t.Fatalf("Invoke = %v, %v; want served in eu-west-1", out, err)
		}
	}
	// With every region down or failing, the error says so.
	e.b.serve = func(_ context.Context, region string, _ int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
		return nil, nil, unavailable(region)
	}
	_, err := e.invoke(t, "r", false)
	if ie := inference.AsError(err); ie.Kind != inference.KindUnavailable {
		t.Errorf("Invoke with the peers down and the local deployment failing = %v, want 503", err)
	}
	for _, r := range []string{"eu-central-1", "eu-north-1", "us-east-1"} {
		if e.b.count(r) != 0 {
			t.Errorf("%s received %d attempts", r, e.b.count(r))
		}
	}
}

// TestCallerLimitVersusDeploymentLimit: a deployment at capacity sends the
// request to the next destination; the caller's own limit refuses it
// outright, since no destination would do better.
func TestCallerLimitVersusDeploymentLimit(t *testing.T) {
	t.Parallel()
	t.Run("deployment", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, "")
		e.quota.capacity["eu-west-1/m"] = 1
		e.quota.hold("eu-west-1/m")
		out, err := e.invoke(t, "r", false)
		if err != nil || out.Route.InferenceRegion == "eu-west-1" {
			t.Fatalf("Invoke = %v, %v; want served by another EU region", out, err)
		}
		if e.b.count("eu-west-1") != 0 {
			t.Error("the deployment at capacity was attempted")
		}
		if h := out.Header.Get("X-Ratelimit-Limit-Requests"); h != "60" {
			t.Errorf("x-ratelimit-limit-requests %q, want the reservation's headers", h)
		}
	})
	t.Run("caller", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, "")
		e.quota.refuse["p"] = &inference.Error{Kind: inference.KindThrottled, RetryAfter: 7 * time.Second, Message: "rate limit of p"}
		_, err := e.invoke(t, "r", false)
		if ie := inference.AsError(err); ie.Kind != inference.KindThrottled || ie.RetryAfter != 7*time.Second {
			t.Errorf("Invoke = %v, want the caller's 429 with Retry-After 7s", err)
		}
		if n := len(e.quota.reserved()); n != 1 {
			t.Errorf("%d reservations tried, want 1: the caller's limit holds everywhere", n)
		}
		if len(e.b.tried()) != 0 || e.records() != 1 {
			t.Errorf("tried %v with %d records, want no attempt and one record", e.b.tried(), e.records())
		}
	})
	t.Run("every deployment", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, "")
		for _, r := range euRegionsOfM {
			e.quota.capacity[r+"/m"] = 1
			e.quota.hold(r + "/m")
		}
		// Only the source's own deployment is checked here; the others
		// are checked by their nodes (Deployment is empty when forwarded).
		out, err := e.invoke(t, "r", false)
		if err != nil || out.Route.InferenceRegion == "eu-west-1" {
			t.Fatalf("Invoke = %v, %v; want forwarded (the destination checks its own capacity)", out, err)
		}
		for _, q := range e.quota.reserved() {
			if q.Deployment != "" && q.Deployment != "eu-west-1/m" {
				t.Errorf("reserved %+v at the source, want only the local deployment's capacity", q)
			}
		}
	})
}

// TestResidencyRecheckedBeforeEachAttempt: a destination outside the
// profile's set for the source region is never attempted, even when the
// plan proposes it (here the destinations handed to the router include
// us-east-1, as a bug or a bad peer message might): invariant 1 is checked
// again right before each attempt.
func TestResidencyRecheckedBeforeEachAttempt(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "")
	e.b.serve = func(_ context.Context, region string, _ int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
		if region == "us-east-1" {
			return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok")}, nil, nil
		}
		return nil, nil, unavailable(region)
	}
	all := []string{"us-east-1", "eu-west-1", "eu-central-1", "eu-north-1"}
	job := &Job{RequestID: "r", Operation: OpChatCompletions, SourceRegion: "eu-west-1", ProfileID: "eu.m", Model: "m", Principal: e.principal,
		Request: &inference.Request{Model: "eu.m"}}
	route := &Route{}
	out, err := e.g.execute(t.Context(), job, all, all, route, nil)
	if err == nil {
		t.Fatalf("execute served in %s, want a refusal: only us-east-1 answers and it is outside eu.m", out.Route.InferenceRegion)
	}
	if n := e.b.count("us-east-1"); n != 0 {
		t.Errorf("us-east-1 received %d attempts of an eu. profile", n)
	}
	for _, a := range route.Attempts {
		if a.Region == "us-east-1" {
			t.Errorf("route attempts %+v name us-east-1", route.Attempts)
		}
	}
}

// TestNewRefusesANilAuthorizer: no omission opens access.
func TestNewRefusesANilAuthorizer(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(engineTopology), "engine.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var typedNil *PolicyAuthorizer
	for _, a := range []Authorizer{nil, typedNil} {
		if _, err := New(Options{Region: "eu-west-1", Config: cfg, Authorizer: a}); !errors.Is(err, ErrNoAuthorizer) {
			t.Errorf("New(Authorizer: %#v) = %v, want ErrNoAuthorizer", a, err)
		}
	}
	if _, err := New(Options{Region: "nowhere", Config: cfg, Authorizer: AllowAll{}}); err == nil {
		t.Error("New(Region: nowhere) succeeded")
	}
	if _, err := New(Options{Region: "eu-west-1", Authorizer: AllowAll{}}); err == nil {
		t.Error("New without a topology succeeded")
	}
}

// TestPolicyAuthorizerWithoutPolicies: a topology without policies yields
// an authorizer that says it allows everything, never a nil one; a nil
// *PolicyAuthorizer allows nothing.
func TestPolicyAuthorizerWithoutPolicies(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(engineTopology), "engine.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewPolicyAuthorizer(cfg)
	if err != nil || a == nil || !a.AllowsAll() {
		t.Fatalf("NewPolicyAuthorizer(no policies) = %v, %v; want a non-nil authorizer that allows all", a, err)
	}
	cat, _ := profile.New(cfg)
	res, err := cat.Resolve("eu-west-1", "eu.m")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.AuthorizeInvoke(AuthzInput{Resolution: res}); err != nil || len(got) != len(res.Destinations) {
		t.Errorf("AuthorizeInvoke = %v, %v; want every destination", got, err)
	}
	if err := a.Decide(AuthzInput{Resolution: res}, "bedrock:ListInferenceProfiles", "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/*"); err != nil {
		t.Errorf("Decide = %v, want allowed", err)
	}
	var none *PolicyAuthorizer
	if none.AllowsAll() {
		t.Error("a nil *PolicyAuthorizer allows all")
	}
	if _, err := none.AuthorizeInvoke(AuthzInput{Resolution: res}); inference.AsError(err).Kind != inference.KindPermissionDenied {
		t.Errorf("nil AuthorizeInvoke = %v, want denied", err)
	}
	if err := none.Decide(AuthzInput{Resolution: res}, "bedrock:ListInferenceProfiles", "arn:x"); inference.AsError(err).Kind != inference.KindPermissionDenied {
		t.Errorf("nil Decide = %v, want denied", err)
	}
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	return ctx, cancel
}
