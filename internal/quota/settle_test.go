package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// settleFaults wraps a store whose settlements fail with err (the others
// work), counting the attempts.
type settleFaults struct {
	Store
	err      atomic.Pointer[error]
	attempts atomic.Int64
}

func (f *settleFaults) fail() error {
	f.attempts.Add(1)
	if p := f.err.Load(); p != nil {
		return *p
	}
	return nil
}

func (f *settleFaults) Commit(ctx context.Context, c Claim, w []int64, actual int64) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Commit(ctx, c, w, actual)
}

func (f *settleFaults) Release(ctx context.Context, c Claim, w []int64) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Release(ctx, c, w)
}

// TestSettlementFailures: a settlement the store refuses (it would fail
// again) is logged once with its request and dropped, and leaves the store
// up; one that fails transiently is retried, at most maxSettleAttempts
// times in all, and then dropped, so that it never keeps the store down.
func TestSettlementFailures(t *testing.T) {
	refusedErr := fmt.Errorf("commit quota: %w: ERR value is not an integer or out of range script: 86c7, on @user_script:38.", ErrStoreRefused)
	tests := []struct {
		name         string
		err          error
		release      bool
		wantErr      error
		wantAttempts int64 // store calls for the settlement, retries included
		wantDropped  string
	}{
		{name: "commit refused", err: refusedErr, wantErr: ErrStoreRefused, wantAttempts: 1, wantDropped: dropRefused},
		{name: "release refused", err: refusedErr, release: true, wantErr: ErrStoreRefused, wantAttempts: 1, wantDropped: dropRefused},
		{name: "commit transient", err: errConnRefused, wantErr: ErrStoreUnavailable, wantAttempts: maxSettleAttempts, wantDropped: dropAttempts},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(suiteStart)
			fs := &settleFaults{Store: NewMemory(clock)}
			logs := &lockedBuffer{}
			reg := prometheus.NewRegistry()
			l, err := New(Config{}, fs, Options{Clock: clock, Logger: slog.New(slog.NewTextHandler(logs, nil)), Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			ctx := t.Context()
			req := Request{Principal: "mallory", Limits: Limits{RPM: 1000, TokensPerDay: 100000}, Model: "m", InputTokens: 10, MaxTokens: 10, RequestID: "req-7"}
			r := mustAdmit(t, l, req)
			fs.err.Store(&tc.err)
			var got error
			if tc.release {
				got = r.Release(ctx)
			} else {
				got = r.Commit(ctx, inference.Usage{OutputTokens: 5})
			}
			if !errors.Is(got, tc.wantErr) {
				t.Errorf("settle = %v, want %v", got, tc.wantErr)
			}
			// Other callers go on; each admission is a success of the
			// store, which retries what waits.
			for i := range 2 * maxSettleAttempts {
				clock.Advance(probeInterval)
				other := Request{Principal: fmt.Sprint("other", i), Limits: Limits{RPM: 1}}
				if _, err := l.Admit(ctx, other); err != nil {
					t.Fatalf("admission %d of another caller = %v, want admitted", i, err)
				}
				l.wg.Wait()
			}
			if !l.Healthy() {
				t.Error("store down after the settlement failed")
			}
			if got := fs.attempts.Load(); got != tc.wantAttempts {
				t.Errorf("settlement tried %d times, want %d", got, tc.wantAttempts)
			}
			if got := metricValue(t, reg, "meridian_quota_pending_settlements", ""); got != 0 {
				t.Errorf("meridian_quota_pending_settlements = %v, want 0", got)
			}
			if got := metricValue(t, reg, "meridian_quota_dropped_settlements_total", "reason="+tc.wantDropped); got != 1 {
				t.Errorf("meridian_quota_dropped_settlements_total{reason=%s} = %v, want 1", tc.wantDropped, got)
			}
			out := logs.String()
			if n := strings.Count(out, `msg="quota settlement dropped"`); n != 1 {
				t.Errorf("logs:\n%s\nwant the dropped settlement logged once", out)
			}
			for _, attr := range []string{"request_id=req-7", "principal=mallory", "model=m", "reason=" + tc.wantDropped} {
				if !strings.Contains(out, attr) {
					t.Errorf("logs:\n%s\nwant the dropped settlement logged with %s", out, attr)
				}
			}
			if tc.wantErr == ErrStoreRefused && strings.Contains(out, "quota store unavailable") {
				t.Errorf("logs:\n%s\na refused settlement reported as a store outage", out)
			}
		})
	}
}

// lockedBuffer is an io.Writer safe for the limiter's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestAdmitRefusedByStore: a reservation the store refuses is refused (a
// 500, under fail_open too: it must not pass unaccounted) without marking
// the store down.
func TestAdmitRefusedByStore(t *testing.T) {
	for _, mode := range []string{FailClosed, FailOpen} {
		t.Run(mode, func(t *testing.T) {
			clock := newFakeClock(suiteStart)
			l := newTestLimiter(t, refusingStore{NewMemory(clock)}, clock, Config{OnStoreError: mode})
			_, err := l.Admit(t.Context(), Request{Principal: "p", Limits: Limits{RPM: 1}})
			if !errors.Is(err, ErrStoreRefused) || errors.Is(err, ErrStoreUnavailable) {
				t.Fatalf("Admit = %v, want ErrStoreRefused", err)
			}
			if ie := AsInferenceError(err); ie == nil || ie.Kind != inference.KindInternal {
				t.Errorf("AsInferenceError(%v) = %v, want internal (500)", err, ie)
			}
			if !l.Healthy() {
				t.Error("a refused reservation marked the store down")
			}
		})
	}
}

type refusingStore struct{ Store }

func (refusingStore) Reserve(context.Context, Claim) (Outcome, error) {
	return Outcome{}, fmt.Errorf("reserve quota: %w: ERR user_script:1: boom", ErrStoreRefused)
}

// TestNegativeCountsRefused: negative token counts are refused at the
// limiter's boundary with a typed error, before the store is asked.
func TestNegativeCountsRefused(t *testing.T) {
	tests := []struct {
		name   string
		req    Request
		field  string
		status int
	}{
		{"max_tokens", Request{Principal: "p", Limits: Limits{TPM: 10}, MaxTokens: -1}, "max_tokens", 400},
		{"input", Request{Principal: "p", Limits: Limits{TPM: 10}, InputTokens: -1, MaxTokens: 5}, "input_tokens", 500},
		{"no limits", Request{Principal: "free", MaxTokens: -1}, "max_tokens", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs := &faultyStore{Store: NewMemory(nil)}
			l := newTestLimiter(t, fs, nil, Config{})
			_, err := l.Admit(t.Context(), tc.req)
			var re *RequestError
			if !errors.As(err, &re) || re.Field != tc.field || !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("Admit(%+v) = %v, want a *RequestError on %s", tc.req, err, tc.field)
			}
			if ie := AsInferenceError(err); ie == nil || ie.Kind.Status() != tc.status {
				t.Errorf("AsInferenceError(%v) = %v, want status %d", err, ie, tc.status)
			}
			if fs.calls.Load() != 0 {
				t.Errorf("store called %d times for an invalid request", fs.calls.Load())
			}
		})
	}
}

// TestRequestTokensSaturate: the reserved tokens never wrap.
func TestRequestTokensSaturate(t *testing.T) {
	const maxInt = int(^uint(0) >> 1)
	tests := []struct {
		input, max int
		want       int64
	}{
		{100, 200, 300},
		{100, 0, 100 + DefaultMaxTokens},
		{maxInt, maxInt, MaxRequestTokens},
		{30, maxInt, MaxRequestTokens},
		{maxInt, 1, MaxRequestTokens},
		{MaxRequestTokens - 1, 1, MaxRequestTokens},
		{MaxRequestTokens - 1, 2, MaxRequestTokens},
		{1 << 62, 1 << 62, MaxRequestTokens},
	}
	for _, tc := range tests {
		got, err := Request{InputTokens: tc.input, MaxTokens: tc.max}.tokens(DefaultMaxTokens)
		if err != nil || got != tc.want {
			t.Errorf("tokens(input %d, max %d) = %d, %v; want %d", tc.input, tc.max, got, err, tc.want)
		}
	}
	for _, u := range []inference.Usage{{InputTokens: maxInt, OutputTokens: maxInt}, {InputTokens: 1 << 62, OutputTokens: 1 << 62}, {InputTokens: -maxInt - 1, OutputTokens: maxInt}} {
		if got := usageTokens(u, 1); got < 0 || got > MaxRequestTokens {
			t.Errorf("usageTokens(%+v) = %d, want within 0..MaxRequestTokens", u, got)
		}
	}
}

// TestReplicaRestartReleasesLeases: a replica killed mid-request restarts
// with the same data directory and frees the concurrency slots its dead
// run held, at once rather than after lease_ttl; another replica's slots
// stay held. Run against memory (a store outliving the process) here, and
// against Redis in TestRedisReplicaRestart.
func TestReplicaRestartReleasesLeases(t *testing.T) {
	clock := newFakeClock(suiteStart)
	testReplicaRestart(t, func() Store { return NewMemory(clock) }, clock)
}

func testReplicaRestart(t *testing.T, newStore func() Store, clock Clock) {
	store := newStore()
	dirA, dirB := t.TempDir(), t.TempDir()
	open := func(dir string) *Limiter {
		t.Helper()
		l, err := New(Config{}, store, Options{Clock: clock, Logger: testLogger(t), DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		l.wg.Wait() // the release of a previous run's leases
		return l
	}
	req := Request{Principal: "p", Limits: Limits{MaxConcurrency: 3}, Deployment: "eu-west-1/m", Capacity: Capacity{MaxConcurrency: 3}}

	a := open(dirA)
	if a.Replica() == "" {
		t.Fatal("Replica() is empty with a data directory")
	}
	b := open(dirB)
	if b.Replica() == "" || b.Replica() == a.Replica() {
		t.Fatalf("replica ids %q and %q, want two distinct ids", a.Replica(), b.Replica())
	}
	mustAdmit(t, a, req)
	mustAdmit(t, a, req)
	mustAdmit(t, b, req)
	if le := mustReject(t, b, req); le.Kind != Concurrency {
		t.Fatalf("fourth request rejected by %v, want max_concurrency", le.Kind)
	}
	// While a runs, nobody else can take its identity.
	if dup := open(dirA); dup.Replica() != "" {
		t.Errorf("a second limiter on a live replica's data directory got id %q, want none", dup.Replica())
	} else {
		dup.Close()
	}

	// a dies without settling (Close stands for the process's end: it
	// releases the lock, not the leases), and comes back.
	a.Close()
	a2 := open(dirA)
	if a2.Replica() != a.Replica() {
		t.Fatalf("restarted replica id %q, want %q", a2.Replica(), a.Replica())
	}
	held := mustAdmit(t, a2, req) // the dead run's two slots are free
	mustAdmit(t, a2, req)
	if le := mustReject(t, a2, req); le.Kind != Concurrency || le.Remaining != 0 {
		t.Errorf("after the restart: %+v, want b's slot and a2's two held", le)
	}
	// A further restart keeps the live run's slots of b, and frees a2's.
	held.Release(t.Context())
	a2.Close()
	a3 := open(dirA)
	mustAdmit(t, a3, req)
	mustAdmit(t, a3, req)
	mustReject(t, a3, req) // b's slot is still held
}

func (f *faultyStore) ReleaseLeases(ctx context.Context, owner, keep string) (int, error) {
	if err := f.fail(); err != nil {
		return 0, err
	}
	return f.Store.ReleaseLeases(ctx, owner, keep)
}

// TestReplicaRestartStoreDown: a replica that restarts while the store is
// down frees its dead run's slots once the store answers again.
func TestReplicaRestartStoreDown(t *testing.T) {
	clock := newFakeClock(suiteStart)
	fs := &faultyStore{Store: NewMemory(clock)}
	dir := t.TempDir()
	req := Request{Principal: "p", Limits: Limits{MaxConcurrency: 1}}
	a, err := New(Config{}, fs, Options{Clock: clock, Logger: testLogger(t), DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a.wg.Wait()
	mustAdmit(t, a, req)
	a.Close() // dies holding the slot

	fs.down.Store(true)
	b, err := New(Config{}, fs, Options{Clock: clock, Logger: testLogger(t), DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	b.wg.Wait()
	if b.Healthy() {
		t.Fatal("Healthy() = true after the release failed on a down store")
	}
	fs.down.Store(false)
	clock.Advance(probeInterval)
	mustReject(t, b, req) // the probe: the dead run's slot still counts; the release starts
	b.wg.Wait()
	mustAdmit(t, b, req)
}
