package gateway

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/routing/routingtest"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// pathTopology has two EU regions serving m (context window 8192) and n
// (none set), eu-west-1 serving c with a single slot, and eu-central-1
// serving r.
const pathTopology = `account: "111122223333"
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: eu-central-1, geography: eu, location: { lat: 50, lon: 8 }, listen: "127.0.0.1:3", link: "127.0.0.1:4" }
models: [ { id: m, context_window: 8192 }, { id: n }, { id: c }, { id: r } ]
deployments:
  - { model: m, region: eu-west-1, backend: { type: mock } }
  - { model: m, region: eu-central-1, backend: { type: mock } }
  - { model: n, region: eu-west-1, backend: { type: mock } }
  - { model: c, region: eu-west-1, backend: { type: mock }, capacity: { max_concurrency: 1 } }
  - { model: r, region: eu-central-1, backend: { type: mock } }
principals: [ { id: p, limits: { tokens_per_day: 100000000 } } ]
`

// fakeBackend serves one model with functions the test sets.
type fakeBackend struct {
	stream   func(ctx context.Context, req *inference.Request) (inference.Stream, error)
	complete func(ctx context.Context, req *inference.Request) (*inference.Response, error)
}

var _ Backend = (*fakeBackend)(nil)

func (b *fakeBackend) Complete(ctx context.Context, req *inference.Request) (*inference.Response, error) {
	if b.complete == nil {
		return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok"), Usage: inference.Usage{InputTokens: 5, OutputTokens: 1}}, nil
	}
	return b.complete(ctx, req)
}

func (b *fakeBackend) Stream(ctx context.Context, req *inference.Request) (inference.Stream, error) {
	return b.stream(ctx, req)
}

func (b *fakeBackend) Close() error { return nil }

// fakeStream yields events, then either ends with end or, when hang is
// set, blocks until ctx is done and fails the way a backend's cancelled
// read does (a time-out).
type fakeStream struct {
	ctx    context.Context
	events []inference.Event
	hang   bool
	end    error
	closed chan struct{}
	once   sync.Once
	// blocked, if set, is told when Recv starts to hang.
	blocked chan struct{}
}

func newFakeStream(ctx context.Context, hang bool, events ...inference.Event) *fakeStream {
	return &fakeStream{ctx: ctx, events: events, hang: hang, end: io.EOF, closed: make(chan struct{})}
}

func (s *fakeStream) Recv() (inference.Event, error) {
	if len(s.events) > 0 {
		ev := s.events[0]
		s.events = s.events[1:]
		return ev, nil
	}
	if !s.hang {
		return inference.Event{}, s.end
	}
	if s.blocked != nil {
		select {
		case s.blocked <- struct{}{}:
		default:
		}
	}
	select {
	case <-s.ctx.Done():
		return inference.Event{}, &inference.Error{Kind: inference.KindTimeout, Message: "the model did not answer in time", Err: s.ctx.Err()}
	case <-s.closed:
		return inference.Event{}, io.ErrClosedPipe
	}
}

func (s *fakeStream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// fakeLink reaches eu-central-1 through an executor backed by fake
// backends, as the inter-region link would.
type fakeLink struct {
	exec Executor
	// beforeAttempt, if set, runs when the gateway checks a peer right
	// before its attempt (after the plan was made).
	beforeAttempt *func(region string)
}

func (l fakeLink) Executor(string) Executor { return l.exec }

func (l fakeLink) PeerHealthy(region string) bool {
	if l.beforeAttempt != nil && *l.beforeAttempt != nil {
		(*l.beforeAttempt)(region)
	}
	return true
}

// backendExecutor runs jobs on a fake backend (a peer region's node).
type backendExecutor struct{ b *fakeBackend }

func (e backendExecutor) Complete(ctx context.Context, job *Job) (*inference.Response, error) {
	return e.b.Complete(ctx, job.Request)
}

func (e backendExecutor) Stream(ctx context.Context, job *Job) (inference.Stream, error) {
	return e.b.Stream(ctx, job.Request)
}

// fakeRecorder keeps every record, or refuses each with err when set.
type fakeRecorder struct {
	mu   sync.Mutex
	recs []*Record
	err  error
}

func (r *fakeRecorder) Record(_ context.Context, rec *Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	c := *rec
	r.recs = append(r.recs, &c)
	return nil
}

func (r *fakeRecorder) last(t *testing.T) *Record {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.recs) == 0 {
		t.Fatal("no request recorded")
	}
	return r.recs[len(r.recs)-1]
}

// settlement is one Commit or Release the quota saw.
type settlement struct {
	release bool
	actual  int64
}

// fakeQuota admits against each deployment's max_concurrency of the
// topology and notes every reservation and settlement; beforeSettle, if
// set, runs before a commit or release is applied. refuse, if set for a
// principal, is that caller's own limit's refusal.
type fakeQuota struct {
	mu           sync.Mutex
	capacity     map[string]int // deployment key → max concurrency; 0: unlimited
	inUse        map[string]int
	refuse       map[string]error
	requests     []QuotaRequest
	settled      []settlement
	beforeSettle func()
}

var _ Quota = (*fakeQuota)(nil)

func newFakeQuota(cfg *topology.Config) *fakeQuota {
	q := &fakeQuota{capacity: map[string]int{}, inUse: map[string]int{}, refuse: map[string]error{}}
	for _, d := range cfg.Deployments {
		q.capacity[d.Key()] = d.Capacity.Concurrency()
	}
	return q
}

func (q *fakeQuota) Reserve(_ context.Context, r QuotaRequest) (Reservation, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.requests = append(q.requests, r)
	if err := q.refuse[r.Principal]; err != nil && r.Principal != "" {
		return nil, err
	}
	if r.Deployment != "" {
		if c := q.capacity[r.Deployment]; c > 0 && q.inUse[r.Deployment] >= c {
			return nil, &inference.Error{Kind: inference.KindThrottled, RetryAfter: time.Second, Message: "deployment at capacity", Err: ErrDeploymentLimited}
		}
		q.inUse[r.Deployment]++
	}
	return &fakeReservation{q: q, deployment: r.Deployment}, nil
}

// hold takes one slot of deployment, as another replica would.
func (q *fakeQuota) hold(deployment string) {
	q.mu.Lock()
	q.inUse[deployment]++
	q.mu.Unlock()
}

func (q *fakeQuota) setBeforeSettle(f func()) {
	q.mu.Lock()
	q.beforeSettle = f
	q.mu.Unlock()
}

func (q *fakeQuota) settlements() []settlement {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]settlement(nil), q.settled...)
}

func (q *fakeQuota) reserved() []QuotaRequest {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]QuotaRequest(nil), q.requests...)
}

func (q *fakeQuota) settle(deployment string, s settlement) {
	q.mu.Lock()
	q.settled = append(q.settled, s)
	hook := q.beforeSettle
	q.mu.Unlock()
	if hook != nil {
		hook()
	}
	q.mu.Lock()
	if deployment != "" {
		q.inUse[deployment]--
	}
	q.mu.Unlock()
}

type fakeReservation struct {
	q          *fakeQuota
	deployment string
	once       sync.Once
}

func (r *fakeReservation) Commit(_ context.Context, u inference.Usage) error {
	r.once.Do(func() { r.q.settle(r.deployment, settlement{actual: int64(u.Total())}) })
	return nil
}

func (r *fakeReservation) Release(context.Context) error {
	r.once.Do(func() { r.q.settle(r.deployment, settlement{release: true}) })
	return nil
}

func (r *fakeReservation) Header() http.Header {
	return http.Header{"X-Ratelimit-Limit-Requests": {"60"}}
}

// pathHarness is a gateway in eu-west-1 with fake backends (local and
// behind the link), a manual clock, a recording quota store and recorder.
type pathHarness struct {
	g         *Gateway
	cfg       *topology.Config
	clock     *routingtest.Clock
	local     *fakeBackend // m, n and c in eu-west-1
	remote    *fakeBackend // m in eu-central-1
	quota     *fakeQuota
	recorder  *fakeRecorder
	principal auth.Principal
	// beforeRemoteAttempt, if set, runs between the plan and an attempt at
	// a remote region.
	beforeRemoteAttempt func(region string)
}

func newPathHarness(t *testing.T) *pathHarness {
	t.Helper()
	cfg, err := topology.Parse([]byte(pathTopology), "path.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := &pathHarness{cfg: cfg, clock: routingtest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
		local: &fakeBackend{}, remote: &fakeBackend{}, recorder: &fakeRecorder{}}
	h.quota = newFakeQuota(cfg)
	rt, err := NewRouting(cfg, "eu-west-1", h.clock)
	if err != nil {
		t.Fatal(err)
	}
	h.g, err = New(Options{Region: "eu-west-1", Config: cfg, Routing: rt, Quota: h.quota, Authorizer: AllowAll{}, Recorder: h.recorder, Clock: h.clock,
		Backends: map[string]Backend{"m": h.local, "n": h.local, "c": h.local},
		Link:     fakeLink{exec: backendExecutor{b: h.remote}, beforeAttempt: &h.beforeRemoteAttempt}})
	if err != nil {
		t.Fatal(err)
	}
	var ok bool
	if h.principal, ok = h.g.Authenticator().Principal("p"); !ok {
		t.Fatal("principal p not found")
	}
	return h
}

func (h *pathHarness) call(id, model string, stream bool) *Call {
	return &Call{RequestID: id, Operation: OpChatCompletions, Principal: h.principal,
		Request: &inference.Request{Model: model, Stream: stream, Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "hello there, model")}}}
}

// health returns the tracker's view of region's deployment of model.
func (h *pathHarness) health(t *testing.T, region, model string) (errRate float64, circuitOpen, coolingDown bool) {
	t.Helper()
	st, ok := h.g.Routing().Tracker.State(routing.Key{Region: region, Model: model})
	if !ok {
		t.Fatalf("no tracker state for %s/%s", region, model)
	}
	return st.ErrorRate, st.Circuit != routing.CircuitClosed, st.CooldownUntil.After(h.clock.Now())
}
