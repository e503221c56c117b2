package quota

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// The store suite: every test here runs against Memory (memory_test.go),
// against a real redis-server (redis_test.go) and against a real
// three-master Redis Cluster (cluster_test.go), through a Limiter, with the
// same expected numbers. That is what "identical semantics" means.

// storeMaker returns a function that creates clients of one fresh shared
// store (replicas), all reading time from clock.
type storeMaker func(t *testing.T, clock Clock) func() Store

var suiteStart = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func runStoreSuite(t *testing.T, mk storeMaker) {
	tests := []struct {
		name string
		f    func(t *testing.T, clients func() Store, clock *fakeClock)
	}{
		{"RequestsSlidingWindow", testRequestsSlidingWindow},
		{"TokenAccounting", testTokenAccounting},
		{"ReleaseReturnsEverything", testReleaseReturnsEverything},
		{"Concurrency", testConcurrency},
		{"SettleAfterLeaseExpiry", testSettleAfterLeaseExpiry},
		{"Budgets", testBudgets},
		{"Scopes", testScopes},
		{"SharedState", testSharedState},
		{"Records", testRecords},
		{"ReplicasExactRPM", testReplicasExactRPM},
		{"ReplicasExactTokens", testReplicasExactTokens},
		{"Overflow", testOverflow},
		{"StoreBounds", testStoreBounds},
		{"ReleaseLeases", testReleaseLeases},
		{"Pools", testPools},
		{"Burndown", testBurndown},
		{"CacheRead", testCacheRead},
		{"DailyDefault", testDailyDefault},
		{"FlexShare", testFlexShare},
		{"ReplicasExactPools", testReplicasExactPools},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(suiteStart)
			tc.f(t, mk(t, clock), clock)
		})
	}
}

func newTestLimiter(t testing.TB, s Store, clock Clock, cfg Config) *Limiter {
	t.Helper()
	l, err := New(cfg, s, Options{Clock: clock, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func mustAdmit(t *testing.T, l *Limiter, req Request) *Reservation {
	t.Helper()
	r, err := l.Admit(t.Context(), req)
	if err != nil {
		t.Fatalf("Admit(%+v) = %v, want admitted", req, err)
	}
	return r
}

func mustReject(t *testing.T, l *Limiter, req Request) *LimitError {
	t.Helper()
	r, err := l.Admit(t.Context(), req)
	if err == nil {
		t.Fatalf("Admit(%+v) admitted (status %+v), want rejected", req, r.Status())
	}
	var le *LimitError
	if !errors.As(err, &le) || !errors.Is(err, ErrLimited) {
		t.Fatalf("Admit(%+v) = %v, want a *LimitError", req, err)
	}
	if le.RetryAfter <= 0 {
		t.Fatalf("Admit(%+v) rejected with RetryAfter %v, want > 0", req, le.RetryAfter)
	}
	return le
}

func testRequestsSlidingWindow(t *testing.T, clients func() Store, clock *fakeClock) {
	l := newTestLimiter(t, clients(), clock, Config{})
	req := Request{Principal: "alice", Limits: Limits{RPM: 3}}
	for i := range 3 {
		r := mustAdmit(t, l, req)
		if got, want := r.Status().Requests, (Meter{Limit: 3, Remaining: int64(2 - i), Reset: time.Minute}); got != want {
			t.Errorf("admission %d: Status().Requests = %+v, want %+v", i, got, want)
		}
		clock.Advance(10 * time.Second)
	}
	// t0+30s: entries at t0, t0+10s, t0+20s. The first frees at t0+60s.
	le := mustReject(t, l, req)
	want := &LimitError{
		Scope: ScopePrincipal, Name: "alice", Kind: RequestsPerMinute, Limit: 3, Remaining: 0, Requested: 1,
		ResetAt: suiteStart.Add(80 * time.Second), RetryAfter: 30 * time.Second,
		Status: Status{Requests: Meter{Limit: 3, Remaining: 0, Reset: 50 * time.Second}},
	}
	if diff := cmp.Diff(want, le); diff != "" {
		t.Errorf("rejection at t0+30s (-want +got):\n%s", diff)
	}
	// Exactly at t0+60s the first entry has left the window.
	clock.Set(suiteStart.Add(time.Minute))
	mustAdmit(t, l, req)
	clock.Set(suiteStart.Add(65 * time.Second))
	if le := mustReject(t, l, req); le.RetryAfter != 5*time.Second {
		t.Errorf("rejection at t0+65s: RetryAfter = %v, want 5s (entry of t0+10s frees at t0+70s)", le.RetryAfter)
	}
	clock.Set(suiteStart.Add(70 * time.Second))
	mustAdmit(t, l, req)
}

func testTokenAccounting(t *testing.T, clients func() Store, clock *fakeClock) {
	l := newTestLimiter(t, clients(), clock, Config{DefaultMaxTokens: 500})
	req := Request{Principal: "bob", Limits: Limits{TPM: 1000, TokensPerDay: 100000}, InputTokens: 100, MaxTokens: 200}
	ctx := t.Context()

	r1 := mustAdmit(t, l, req)
	if got := r1.Status().Tokens; got != (Meter{Limit: 1000, Remaining: 700, Reset: time.Minute}) {
		t.Errorf("after r1: Status().Tokens = %+v, want 700 remaining", got)
	}
	if err := r1.Commit(ctx, inference.Usage{InputTokens: 90, OutputTokens: 60}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Second)
	r2 := mustAdmit(t, l, req) // 150 + 300
	if got := r2.Status().Tokens.Remaining; got != 550 {
		t.Errorf("after commit of 150 and r2: remaining tokens = %d, want 550", got)
	}
	clock.Advance(10 * time.Second)
	mustAdmit(t, l, req) // 750 in use
	clock.Advance(10 * time.Second)
	// 750 + 300 > 1000; freeing r1's 150 suffices: r1 leaves at t0+60s.
	le := mustReject(t, l, req)
	if le.Kind != TokensPerMinute || le.Remaining != 250 || le.Requested != 300 || le.RetryAfter != 30*time.Second {
		t.Errorf("rejection = %+v, want tpm, remaining 250, requested 300, retry 30s", le)
	}
	// A smaller request fits.
	small := req
	small.MaxTokens = 50
	if r := mustAdmit(t, l, small); r.Status().Tokens.Remaining != 100 {
		t.Errorf("after small request: remaining = %d, want 100", r.Status().Tokens.Remaining)
	}
	// Usage above the estimate is counted too, to the token.
	clock.Set(suiteStart.Add(2 * time.Minute))
	r := mustAdmit(t, l, Request{Principal: "bob", Limits: req.Limits, InputTokens: 10}) // 10 + default 500
	if r.Tokens() != 510 {
		t.Errorf("Tokens() with no max_tokens = %d, want 10 + default 500", r.Tokens())
	}
	if err := r.Commit(ctx, inference.Usage{InputTokens: 12, OutputTokens: 700}); err != nil {
		t.Fatal(err)
	}
	probe := Request{Principal: "bob", Limits: req.Limits, InputTokens: 1, MaxTokens: 1}
	if got := mustAdmit(t, l, probe).Status().Tokens.Remaining; got != 1000-712-2 {
		t.Errorf("after commit of 712: remaining = %d, want %d", got, 1000-712-2)
	}
	// A request larger than the limit can never fit.
	big := Request{Principal: "bob", Limits: req.Limits, InputTokens: 1000, MaxTokens: 1}
	if le := mustReject(t, l, big); !le.TooLarge || le.Kind != TokensPerMinute {
		t.Errorf("oversized request: %+v, want TooLarge tpm", le)
	}
}

func testReleaseReturnsEverything(t *testing.T, clients func() Store, clock *fakeClock) {
	l := newTestLimiter(t, clients(), clock, Config{})
	req := Request{
		Principal: "carol", Limits: Limits{RPM: 1, TPM: 300, MaxConcurrency: 1, TokensPerDay: 300, TokensPerMonth: 300},
		Deployment: "eu-west-1/m", Capacity: Capacity{RPM: 1, TPM: 300, MaxConcurrency: 1},
		InputTokens: 100, MaxTokens: 200,
	}
	for i := range 3 {
		r := mustAdmit(t, l, req)
		mustReject(t, l, req)
		// The request's context is gone (client disconnected); Release
		// must still give everything back.
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := r.Release(ctx); err != nil {
			t.Fatalf("round %d: Release with a cancelled context = %v", i, err)
		}
		// Settling again does nothing.
		if err := r.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := r.Commit(t.Context(), inference.Usage{OutputTokens: 300}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
}

func testConcurrency(t *testing.T, clients func() Store, clock *fakeClock) {
	l := newTestLimiter(t, clients(), clock, Config{LeaseTTL: 2 * time.Minute})
	req := Request{Principal: "dan", Limits: Limits{MaxConcurrency: 2}}
	r1 := mustAdmit(t, l, req)
	mustAdmit(t, l, req)
	le := mustReject(t, l, req)
	if le.Kind != Concurrency || le.RetryAfter != concurrencyRetry || le.Limit != 2 {
		t.Errorf("third request: %+v, want max_concurrency limit 2, retry %s", le, concurrencyRetry)
	}
	if err := r1.Commit(t.Context(), inference.Usage{OutputTokens: 5}); err != nil {
		t.Fatal(err)
	}
	mustAdmit(t, l, req)
	mustReject(t, l, req)
	// Nobody settles (a replica crashed): the leases expire.
	clock.Advance(2*time.Minute - time.Microsecond)
	mustReject(t, l, req)
	clock.Advance(time.Microsecond)
	mustAdmit(t, l, req)
}

// testSettleAfterLeaseExpiry: a reservation settled after its lease
// expired and its slot was taken by another frees nothing of the other's:
// the slot stays held, and the late settlement corrects only its own
// tokens.
func testSettleAfterLeaseExpiry(t *testing.T, clients func() Store, clock *fakeClock) {
	for _, release := range []bool{false, true} {
		t.Run(fmt.Sprint("release=", release), func(t *testing.T) {
			l := newTestLimiter(t, clients(), clock, Config{LeaseTTL: time.Minute})
			req := Request{Principal: fmt.Sprint("lease-late-", release), Limits: Limits{MaxConcurrency: 1, TokensPerDay: 1000}, InputTokens: 100, MaxTokens: 100}
			late := mustAdmit(t, l, req)
			clock.Advance(time.Minute)
			mustAdmit(t, l, req) // the slot, free again, is taken: 400 tokens today
			var err error
			if release {
				err = late.Release(t.Context())
			} else {
				err = late.Commit(t.Context(), inference.Usage{InputTokens: 100, OutputTokens: 50})
			}
			if err != nil {
				t.Fatal(err)
			}
			if le := mustReject(t, l, req); le.Kind != Concurrency {
				t.Errorf("after the late settlement: %+v, want the slot still held (max_concurrency)", le)
			}
			// The late one's tokens are its own: 200 given back on
			// release, 50 on commit.
			want := int64(1000 - 400 + 50)
			if release {
				want = 1000 - 400 + 200
			}
			st, err := clients().Reserve(t.Context(), Claim{ID: "probe-" + fmt.Sprint(release), Tokens: 0, Rules: []Rule{{Key: "p/" + req.Principal, Kind: TokensPerDay, Limit: 1000}}})
			if err != nil {
				t.Fatal(err)
			}
			if got := 1000 - st.Rules[0].Used; got != want {
				t.Errorf("day budget left after the late settlement = %d, want %d", got, want)
			}
		})
	}
}

func testBudgets(t *testing.T, clients func() Store, clock *fakeClock) {
	tests := []struct {
		name   string
		limits Limits
		start  time.Time
		reset  time.Time
	}{
		{"day", Limits{TokensPerDay: 1000}, time.Date(2026, 11, 25, 23, 59, 0, 0, time.UTC), time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)},
		{"month", Limits{TokensPerMonth: 1000}, time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},
		{"month/new-year", Limits{TokensPerMonth: 1000}, time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"month/leap-february", Limits{TokensPerMonth: 1000}, time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"month/february", Limits{TokensPerMonth: 1000}, time.Date(2027, 2, 28, 23, 59, 59, 0, time.UTC), time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"day/leap-day", Limits{TokensPerDay: 1000}, time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock.Set(tc.start)
			l := newTestLimiter(t, clients(), clock, Config{})
			req := Request{Principal: fmt.Sprintf("erin%d", i), Limits: tc.limits, InputTokens: 100, MaxTokens: 500}
			r := mustAdmit(t, l, req)
			if err := r.Commit(t.Context(), inference.Usage{InputTokens: 100, OutputTokens: 250}); err != nil {
				t.Fatal(err)
			}
			mustAdmit(t, l, req) // 350 + 600 = 950
			le := mustReject(t, l, req)
			wantKind := TokensPerDay
			if tc.limits.TokensPerMonth > 0 {
				wantKind = TokensPerMonth
			}
			if le.Kind != wantKind || le.Remaining != 50 || le.TooLarge {
				t.Errorf("rejection = %+v, want %v with 50 remaining", le, wantKind)
			}
			if want := tc.reset.Sub(tc.start); le.RetryAfter != want || !le.ResetAt.Equal(tc.reset) {
				t.Errorf("rejection at %v: RetryAfter %v, ResetAt %v; want %v, %v", tc.start, le.RetryAfter, le.ResetAt, want, tc.reset)
			}
			tiny := req
			tiny.InputTokens, tiny.MaxTokens = 10, 40
			mustAdmit(t, l, tiny) // exactly 1000
			tiny.MaxTokens = 1
			mustReject(t, l, tiny)
			huge := req
			huge.MaxTokens = 5000
			if le := mustReject(t, l, huge); !le.TooLarge {
				t.Errorf("request over the whole budget: TooLarge = false")
			}
			clock.Set(tc.reset.Add(-time.Microsecond))
			mustReject(t, l, tiny)
			clock.Set(tc.reset)
			mustAdmit(t, l, req)
			mustAdmit(t, l, tiny)
			if le := mustReject(t, l, req); le.Remaining != 1000-600-11 {
				t.Errorf("new period: remaining %d, want %d", le.Remaining, 1000-600-11)
			}
		})
	}
}

func testScopes(t *testing.T, clients func() Store, clock *fakeClock) {
	l := newTestLimiter(t, clients(), clock, Config{})
	limits := Limits{
		RPM:        10,
		PerModel:   map[string]ScopedLimits{"m1": {RPM: 2}},
		PerProfile: map[string]ScopedLimits{"eu.m1": {TPM: 1000}},
	}
	req := Request{Principal: "fay", Limits: limits, Model: "m1", Profile: "eu.m1", InputTokens: 100, MaxTokens: 200}
	r := mustAdmit(t, l, req)
	if got, want := r.Status(), (Status{Requests: Meter{Limit: 2, Remaining: 1, Reset: time.Minute}, Tokens: Meter{Limit: 1000, Remaining: 700, Reset: time.Minute}}); got != want {
		t.Errorf("Status() = %+v, want the tightest caller limits %+v", got, want)
	}
	mustAdmit(t, l, req)
	if le := mustReject(t, l, req); le.Scope != ScopeModel || le.Name != "fay/m1" || le.Kind != RequestsPerMinute {
		t.Errorf("third m1 request: %s %q %s, want model \"fay/m1\" rpm", le.Scope, le.Name, le.Kind)
	}
	other := Request{Principal: "fay", Limits: limits, Model: "m3", Profile: "eu.m1", InputTokens: 100, MaxTokens: 200}
	mustAdmit(t, l, other) // profile: 900 of 1000
	if le := mustReject(t, l, other); le.Scope != ScopeProfile || le.Name != "fay/eu.m1" || le.Kind != TokensPerMinute {
		t.Errorf("profile over tpm: %s %q %s, want profile \"fay/eu.m1\" tpm", le.Scope, le.Name, le.Kind)
	}

	// A deployment's capacity refuses without consuming the caller's
	// limits: all or nothing.
	dep := Request{Principal: "gus", Limits: Limits{RPM: 5}, Deployment: "eu-west-1/m", Capacity: Capacity{RPM: 1}}
	mustAdmit(t, l, dep)
	le := mustReject(t, l, dep)
	if le.Scope != ScopeDeployment || le.Name != "eu-west-1/m" {
		t.Errorf("deployment over rpm: %s %q, want deployment \"eu-west-1/m\"", le.Scope, le.Name)
	}
	if strings.Contains(le.Message(), "eu-west-1") {
		t.Errorf("Message() = %q names the deployment", le.Message())
	}
	if le.Status.Requests.Remaining != 4 {
		t.Errorf("caller status on a deployment rejection: %+v, want 4 remaining", le.Status.Requests)
	}
	dep.Deployment = "eu-central-1/m"
	if r := mustAdmit(t, l, dep); r.Status().Requests.Remaining != 3 {
		t.Errorf("after a rejected and an admitted request: remaining %d, want 3", r.Status().Requests.Remaining)
	}
}

func testSharedState(t *testing.T, clients func() Store, clock *fakeClock) {
	ctx := t.Context()
	a, b := clients(), clients()
	const key = "eu-west-1/demo.chat-small"
	check := func(step string, want map[string]time.Duration) {
		t.Helper()
		got, err := b.Cooldowns(ctx, []string{key, "us-east-1/demo.chat-small"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: Cooldowns (-want +got):\n%s", step, diff)
		}
	}
	check("before", map[string]time.Duration{})
	if err := a.SetCooldown(ctx, key, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	check("set 10s", map[string]time.Duration{key: 10 * time.Second})
	a.SetCooldown(ctx, key, 5*time.Second)
	check("shorter kept longer", map[string]time.Duration{key: 10 * time.Second})
	clock.Advance(6 * time.Second)
	check("after 6s", map[string]time.Duration{key: 4 * time.Second})
	b.SetCooldown(ctx, key, 20*time.Second)
	check("longer wins", map[string]time.Duration{key: 20 * time.Second})
	clock.Advance(20 * time.Second)
	check("expired", map[string]time.Duration{})

	if err := a.SetState(ctx, "circuit/eu-west-1", "open", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	a.SetState(ctx, "circuit/us-east-1", "half-open|with bars", time.Minute)
	got, err := b.States(ctx, []string{"circuit/eu-west-1", "circuit/us-east-1", "circuit/none"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"circuit/eu-west-1": "open", "circuit/us-east-1": "half-open|with bars"}, got); diff != "" {
		t.Errorf("States (-want +got):\n%s", diff)
	}
	clock.Advance(30 * time.Second)
	a.SetState(ctx, "circuit/us-east-1", "", time.Minute)
	got, _ = b.States(ctx, []string{"circuit/eu-west-1", "circuit/us-east-1"})
	if len(got) != 0 {
		t.Errorf("States after expiry and delete = %v, want none", got)
	}
}

// testRecords: a record set written by one replica is read whole by
// another, fields merge, and records do not expire.
func testRecords(t *testing.T, clients func() Store, clock *fakeClock) {
	ctx := t.Context()
	a, b := clients(), clients()
	got, err := b.Records(ctx, "profiles:eu-west-1")
	if err != nil || len(got) != 0 {
		t.Fatalf("Records(empty) = %v, %v; want none", got, err)
	}
	if err := a.PutRecords(ctx, "profiles:eu-west-1", map[string]string{"p1": `{"id":"p1"}`, "p2": `{"id":"p2"}`}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutRecords(ctx, "profiles:eu-west-1", map[string]string{"p2": `{"id":"p2","deleted":true}`}); err != nil {
		t.Fatal(err)
	}
	a.PutRecords(ctx, "profiles:us-east-1", map[string]string{"p9": "{}"})
	clock.Advance(48 * time.Hour)
	got, err = a.Records(ctx, "profiles:eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"p1": `{"id":"p1"}`, "p2": `{"id":"p2","deleted":true}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Records (-want +got):\n%s", diff)
	}
}

// testReplicasExactRPM is the replicas' exactness test at store level: three
// replicas, a 60 rpm key, 200 concurrent requests: exactly 60 admitted.
func testReplicasExactRPM(t *testing.T, clients func() Store, clock *fakeClock) {
	var replicas []*Limiter
	for range 3 {
		replicas = append(replicas, newTestLimiter(t, clients(), clock, Config{}))
	}
	req := Request{Principal: "key-60rpm", Limits: Limits{RPM: 60}, Deployment: "eu-west-1/m", Capacity: Capacity{MaxConcurrency: 1000}}
	var admitted, rejected atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			r, err := replicas[i%3].Admit(t.Context(), req)
			var le *LimitError
			switch {
			case err == nil:
				admitted.Add(1)
				r.Commit(t.Context(), inference.Usage{OutputTokens: 1})
			case errors.As(err, &le) && le.Kind == RequestsPerMinute && le.RetryAfter == time.Minute:
				rejected.Add(1)
			default:
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("unexpected Admit error: %v", err)
	}
	if admitted.Load() != 60 || rejected.Load() != 140 {
		t.Errorf("admitted %d, rejected %d; want exactly 60 and 140", admitted.Load(), rejected.Load())
	}
}

// testReplicasExactTokens reserves and commits concurrently from three
// replicas; the tokens counted equal the usage reported, to the token.
func testReplicasExactTokens(t *testing.T, clients func() Store, clock *fakeClock) {
	var replicas []*Limiter
	for range 3 {
		replicas = append(replicas, newTestLimiter(t, clients(), clock, Config{}))
	}
	limits := Limits{TPM: 10000, TokensPerDay: 1_000_000, TokensPerMonth: 1_000_000}
	req := Request{Principal: "stream-key", Limits: limits, InputTokens: 20, MaxTokens: 30}
	var want atomic.Int64
	var wg sync.WaitGroup
	for i := range 150 {
		wg.Go(func() {
			r, err := replicas[i%3].Admit(t.Context(), req)
			if err != nil {
				t.Errorf("Admit: %v", err)
				return
			}
			if i%5 == 4 {
				r.Release(t.Context()) // cancelled before the backend ran
				return
			}
			u := inference.Usage{InputTokens: 18 + i%3, OutputTokens: i % 41}
			want.Add(int64(u.Total()))
			if err := r.Commit(t.Context(), u); err != nil {
				t.Errorf("Commit: %v", err)
			}
		})
	}
	wg.Wait()
	probe := Request{Principal: "stream-key", Limits: Limits{TPM: 10000}, InputTokens: 1, MaxTokens: 1}
	st := mustAdmit(t, replicas[0], probe).Status()
	if got := 10000 - st.Tokens.Remaining - 2; got != want.Load() {
		t.Errorf("tokens counted in the minute = %d, want the %d reported", got, want.Load())
	}
	// The day budget counted the same.
	day := Request{Principal: "stream-key", Limits: Limits{TokensPerDay: int(want.Load()) + 2 + 1}, InputTokens: 1, MaxTokens: 1}
	mustAdmit(t, replicas[1], day)
	mustReject(t, replicas[2], day)
}

// testOverflow: hostile or broken token counts (max_tokens of max int64,
// 2^62, 2^53+1, negative; absurd usage reported back by a backend) admit
// nothing beyond the limits, settle cleanly and leave the store healthy for
// everyone else. A caller limited to 2,000 tokens a minute and 5,000 a day
// once got 9,030 tokens in under a minute with max_tokens = max int64.
func testOverflow(t *testing.T, clients func() Store, clock *fakeClock) {
	const maxInt = int(^uint(0) >> 1)
	limits := Limits{TPM: 2000, TokensPerDay: 5000}
	tests := []struct {
		name  string
		input int
		max   int
		// usage, when set, is reported at the commit of an honest request
		// (input 30, max_tokens 970) instead of sending a hostile one.
		usage *inference.Usage
		// invalid: Admit refuses the request as nonsense rather than
		// as too large for a limit.
		invalid bool
	}{
		{name: "max_tokens=maxint64", input: 30, max: maxInt},
		{name: "max_tokens=2^62", input: 30, max: 1 << 62},
		{name: "max_tokens=2^53+1", input: 30, max: 1<<53 + 1},
		{name: "max_tokens=negative", input: 30, max: -5, invalid: true},
		{name: "max_tokens=minint64", input: 30, max: -maxInt - 1, invalid: true},
		{name: "input=maxint64", input: maxInt, max: 100},
		{name: "input=negative", input: -1 << 62, max: 970, invalid: true},
		{name: "input+max=maxint64", input: maxInt - 970, max: 970},
		{name: "usage=maxint64", usage: &inference.Usage{InputTokens: maxInt}},
		{name: "usage=maxint64+maxint64", usage: &inference.Usage{InputTokens: maxInt, OutputTokens: maxInt}},
		{name: "usage=2^62+2^62", usage: &inference.Usage{InputTokens: 1 << 62, OutputTokens: 1 << 62}},
		{name: "usage=2^53+1", usage: &inference.Usage{OutputTokens: 1<<53 + 1}},
		{name: "usage=negative", usage: &inference.Usage{InputTokens: -maxInt, OutputTokens: 1000}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			clock.Set(suiteStart.Add(time.Duration(i) * 24 * time.Hour)) // a fresh day per case
			l := newTestLimiter(t, clients(), clock, Config{})
			who := fmt.Sprintf("mallory%d", i)
			honest := Request{Principal: who, Limits: limits, InputTokens: 30, MaxTokens: 970}
			var got int64 // tokens the caller was served, saturating
			add := func(n int) { got += min(int64(max(n, 0)), 1<<62-got) }
			if tc.usage == nil {
				hostile := honest
				hostile.InputTokens, hostile.MaxTokens = tc.input, tc.max
				r, err := l.Admit(ctx, hostile)
				if err == nil {
					t.Errorf("Admit(input %d, max_tokens %d) admitted, reserving %d tokens; want it refused", tc.input, tc.max, r.Tokens())
					if err := r.Commit(ctx, inference.Usage{InputTokens: 30, OutputTokens: 1000}); err != nil {
						t.Errorf("Commit of the hostile request = %v", err)
					}
					add(1030)
				} else {
					checkOverflowRefusal(t, err, tc.invalid)
				}
			} else {
				r := mustAdmit(t, l, honest)
				if err := r.Commit(ctx, *tc.usage); err != nil {
					t.Errorf("Commit(%+v) = %v, want nil", *tc.usage, err)
				}
				add(tc.usage.InputTokens)
				add(tc.usage.OutputTokens)
			}
			if !l.Healthy() {
				t.Fatalf("store marked down after the request")
			}
			// Honest traffic for the rest of the minute, then for half an
			// hour, where only the day budget binds. Whatever the caller got
			// first, every later admission must fit under the limits.
			admitted := func(n int, step time.Duration) (extra int64) {
				for range n {
					r, err := l.Admit(ctx, honest)
					if err == nil {
						if err := r.Commit(ctx, inference.Usage{InputTokens: 30, OutputTokens: 970}); err != nil {
							t.Fatalf("Commit = %v", err)
						}
						extra += 1000
					} else if !errors.Is(err, ErrLimited) {
						t.Fatalf("Admit(honest) = %v, want admitted or limited", err)
					}
					clock.Advance(step)
				}
				return extra
			}
			minute := admitted(30, time.Second)
			if minute > 0 && got+minute > 2000 {
				t.Errorf("after %d tokens, %d more admitted in the same minute; limit 2000", got, minute)
			}
			day := admitted(30, time.Minute)
			if minute+day > 0 && got+minute+day > 5000 {
				t.Errorf("after %d tokens, %d more admitted in the day; budget 5000", got, minute+day)
			}
			if le := mustReject(t, l, honest); le.Remaining < 0 || le.Remaining > le.Limit {
				t.Errorf("rejection reports %d remaining of %d", le.Remaining, le.Limit)
			}
			// Everyone else is unaffected.
			other := Request{Principal: who + "-neighbour", Limits: limits, InputTokens: 30, MaxTokens: 970}
			if r := mustAdmit(t, l, other); r.Status().Tokens.Remaining != 1000 {
				t.Errorf("neighbour's remaining tokens = %d, want 1000", r.Status().Tokens.Remaining)
			}
			if !l.Healthy() {
				t.Error("store marked down at the end")
			}
		})
	}
}

// checkOverflowRefusal checks the error of a request with absurd token
// counts: a typed refusal, never a store error.
func checkOverflowRefusal(t *testing.T, err error, invalid bool) {
	t.Helper()
	if errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("Admit = %v, want a refusal, not a store error", err)
	}
	var le *LimitError
	var re *RequestError
	switch {
	case invalid && !errors.As(err, &re):
		t.Errorf("Admit = %v, want a *RequestError", err)
	case invalid && AsInferenceError(err).Kind.Status() >= 500 && re.Field == "max_tokens":
		t.Errorf("AsInferenceError(%v) = %v, want a 400", err, AsInferenceError(err))
	case !invalid && (!errors.As(err, &le) || !le.TooLarge):
		t.Errorf("Admit = %v, want a *LimitError with TooLarge", err)
	case !invalid && le.Requested > MaxRequestTokens:
		t.Errorf("TooLarge rejection requested %d tokens, want at most MaxRequestTokens", le.Requested)
	}
}

// testStoreBounds holds the stores themselves to the bounds, for claims
// that did not come through the limiter: out-of-range claims are refused
// with ErrStoreRefused and change nothing; an absurd actual is clamped;
// counters never wrap.
func testStoreBounds(t *testing.T, clients func() Store, clock *fakeClock) {
	ctx := t.Context()
	s := clients()
	const maxInt64 = int64(^uint64(0) >> 1)
	tpm := Rule{Key: "p/bounds", Kind: TokensPerMinute, Limit: 2000}
	day := Rule{Key: "p/bounds", Kind: TokensPerDay, Limit: 5000}
	bad := []struct {
		name string
		c    Claim
	}{
		{"tokens=maxint64", Claim{ID: "b1", Tokens: maxInt64, Rules: []Rule{tpm, day}}},
		{"tokens=2^53+1", Claim{ID: "b2", Tokens: 1<<53 + 1, Rules: []Rule{tpm, day}}},
		{"tokens=negative", Claim{ID: "b3", Tokens: -maxInt64, Rules: []Rule{tpm, day}}},
		{"limit=maxint64", Claim{ID: "b4", Tokens: 10, Rules: []Rule{{Key: "p/bounds", Kind: TokensPerMinute, Limit: maxInt64}}}},
		{"limit=0", Claim{ID: "b5", Tokens: 10, Rules: []Rule{{Key: "p/bounds", Kind: TokensPerDay}}}},
		{"lease=none", Claim{ID: "b6", Rules: []Rule{{Key: "p/bounds", Kind: Concurrency, Limit: 1}}}},
		{"no id", Claim{Tokens: 10, Rules: []Rule{tpm}}},
	}
	for _, tc := range bad {
		if out, err := s.Reserve(ctx, tc.c); !errors.Is(err, ErrStoreRefused) {
			t.Errorf("%s: Reserve = %+v, %v; want ErrStoreRefused", tc.name, out, err)
		}
		if err := s.Commit(ctx, tc.c, make([]int64, len(tc.c.Rules)), 5); !errors.Is(err, ErrStoreRefused) {
			t.Errorf("%s: Commit = %v; want ErrStoreRefused", tc.name, err)
		}
	}
	// Nothing was recorded: a full-size claim still fits.
	c := Claim{ID: "ok1", Tokens: 2000, Rules: []Rule{tpm, day}}
	out, err := s.Reserve(ctx, c)
	if err != nil || !out.Admitted || out.Rules[0].Used != 2000 || out.Rules[1].Used != 2000 {
		t.Fatalf("Reserve(2000 of 2000) after refused claims = %+v, %v; want admitted, 2000 used", out, err)
	}
	// An absurd actual counts as MaxRequestTokens, without an error.
	for _, actual := range []int64{maxInt64, 1<<53 + 1, -maxInt64} {
		if err := s.Commit(ctx, c, out.Windows, actual); err != nil {
			t.Errorf("Commit(actual %d) = %v, want nil", actual, err)
		}
	}
	probe := Claim{ID: "ok2", Tokens: 1, Rules: []Rule{{Key: "p/bounds", Kind: TokensPerMinute, Limit: maxCount}, {Key: "p/bounds", Kind: TokensPerDay, Limit: maxCount}}}
	out, err = s.Reserve(ctx, probe)
	if err != nil || !out.Admitted {
		t.Fatalf("Reserve(probe) = %+v, %v", out, err)
	}
	// The first commit of a claim replaced its reservation; later ones
	// found it replaced (per minute) or moved the budget again.
	if got := out.Rules[0].Used; got < 1 || got > MaxRequestTokens+1 {
		t.Errorf("tpm used after absurd commits = %d, want within 1..MaxRequestTokens+1", got)
	}
	if got := out.Rules[1].Used; got < 1 || got > maxCount {
		t.Errorf("day used after absurd commits = %d, want within 1..maxCount", got)
	}
	// Durations are bounded too: a cooldown of max int64 lasts 30 days.
	if err := s.SetCooldown(ctx, "r/huge", time.Duration(maxInt64)); err != nil {
		t.Errorf("SetCooldown(max) = %v", err)
	}
	if cd, err := s.Cooldowns(ctx, []string{"r/huge"}); err != nil || cd["r/huge"] != maxDuration {
		t.Errorf("Cooldowns after SetCooldown(max) = %v, %v; want %v", cd, err, maxDuration)
	}
	if err := s.SetState(ctx, "circuit/huge", "open", time.Duration(maxInt64)); err != nil {
		t.Errorf("SetState(max ttl) = %v", err)
	}
	// Counters saturate at maxCount rather than wrap.
	big := Claim{ID: "sat", Tokens: MaxRequestTokens, Rules: []Rule{{Key: "p/sat", Kind: TokensPerDay, Limit: maxCount}}}
	out, err = s.Reserve(ctx, big)
	if err != nil || !out.Admitted {
		t.Fatalf("Reserve(2^40 of 2^52) = %+v, %v", out, err)
	}
	if err := s.Commit(ctx, big, out.Windows, MaxRequestTokens*2); err != nil { // clamped: 2^40
		t.Fatalf("Commit = %v", err)
	}
	// A settle applies once per reservation: each further 2^40 is a
	// reservation of 0 tokens committed with 2^40 (+2^40 each).
	for i := range 5000 {
		c := Claim{ID: fmt.Sprint("sat-", i), Rules: big.Rules}
		o, err := s.Reserve(ctx, c)
		if err != nil || !o.Admitted {
			t.Fatalf("Reserve(0 of 2^52) = %+v, %v", o, err)
		}
		if err := s.Commit(ctx, c, o.Windows, MaxRequestTokens*2); err != nil {
			t.Fatalf("Commit = %v", err)
		}
	}
	out, err = s.Reserve(ctx, Claim{ID: "sat2", Tokens: 0, Rules: big.Rules})
	if err != nil || out.Rules[0].Used != maxCount {
		t.Errorf("budget after 5000 commits of 2^40 = %+v, %v; want saturated at %d", out, err, int64(maxCount))
	}
}

// testReleaseLeases: a replica's restart frees the concurrency leases of
// its previous incarnations, exactly: not its current incarnation's, not
// another replica's (not even one whose id it prefixes).
func testReleaseLeases(t *testing.T, clients func() Store, clock *fakeClock) {
	ctx := t.Context()
	s := clients()
	rule := Rule{Key: "d/r/m", Kind: Concurrency, Limit: 10}
	for _, h := range []struct{ owner, id string }{
		{"r1", "r1/old-1"}, {"r1", "r1/old-2"}, {"r1", "r1/older-1"}, // dead incarnations of r1
		{"r1", "r1/new-1"},   // r1 now
		{"r2", "r2/x-1"},     // another replica
		{"r10", "r10/old-1"}, // a replica whose id r1 prefixes
		{"", "anon-1"},       // a limiter without an identity
	} {
		c := Claim{ID: h.id, Owner: h.owner, Rules: []Rule{rule, {Key: "p/" + h.owner, Kind: Concurrency, Limit: 10}}, Lease: time.Hour}
		if out, err := s.Reserve(ctx, c); err != nil || !out.Admitted {
			t.Fatalf("Reserve(%s) = %+v, %v", h.id, out, err)
		}
	}
	n, err := s.ReleaseLeases(ctx, "r1", "r1/new-")
	if err != nil || n != 6 {
		// 3 dead claims × 2 concurrency rules each.
		t.Errorf("ReleaseLeases(r1) = %d, %v; want 6", n, err)
	}
	used := func(key string) int64 {
		t.Helper()
		out, err := s.Reserve(ctx, Claim{ID: "probe-" + key, Rules: []Rule{{Key: key, Kind: Concurrency, Limit: 1}}, Lease: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if out.Admitted {
			s.Release(ctx, Claim{ID: "probe-" + key, Rules: []Rule{{Key: key, Kind: Concurrency, Limit: 1}}}, out.Windows)
			return 0
		}
		return out.Rules[0].Used
	}
	if got := used("d/r/m"); got != 4 { // r1/new-1, r2, r10, anon
		t.Errorf("deployment leases after the release = %d, want 4", got)
	}
	if got := used("p/r1"); got != 1 {
		t.Errorf("r1's own leases after the release = %d, want 1 (its current run's)", got)
	}
	if n, err := s.ReleaseLeases(ctx, "r1", "r1/new-"); err != nil || n != 0 {
		t.Errorf("second ReleaseLeases(r1) = %d, %v; want 0", n, err)
	}
	if n, err := s.ReleaseLeases(ctx, "nobody", "nobody/x-"); err != nil || n != 0 {
		t.Errorf("ReleaseLeases(nobody) = %d, %v; want 0", n, err)
	}
}
