package quota

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestRedisStore runs the store suite against a real redis-server, each
// replica a separate client (connection pool), time from the fake clock.
func TestRedisStore(t *testing.T) {
	srv := startRedis(t)
	runStoreSuite(t, func(t *testing.T, clock Clock) func() Store {
		prefix := "test:" + t.Name() + ":"
		return func() Store { return srv.newClient(t, prefix, clock) }
	})
}

// TestRedisServerTime is the acceptance test with the server's own TIME:
// three replicas, 200 concurrent requests, a 60 rpm key: exactly 60.
func TestRedisServerTime(t *testing.T) {
	srv := startRedis(t)
	testServerTimeExact(t, func() Store { return srv.newClient(t, "srvtime:", nil) })
}

// testServerTimeExact runs 200 concurrent requests of a 60 rpm key through
// three replicas on clients of one store that reads the server's TIME, and
// wants exactly 60 admitted.
func testServerTimeExact(t *testing.T, clients func() Store) {
	var replicas []*Limiter
	for range 3 {
		replicas = append(replicas, newTestLimiter(t, clients(), nil, Config{}))
	}
	req := Request{Principal: "key-60rpm", Limits: Limits{RPM: 60, TPM: 1_000_000}, InputTokens: 10, MaxTokens: 10}
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			r, err := replicas[i%3].Admit(t.Context(), req)
			var le *LimitError
			switch {
			case err == nil:
				admitted.Add(1)
				if err := r.Commit(t.Context(), inference.Usage{InputTokens: 10, OutputTokens: 5}); err != nil {
					t.Errorf("Commit: %v", err)
				}
			case errors.As(err, &le):
				// The first admission frees 60s after it was made, and
				// some time has passed since.
				if le.Kind != RequestsPerMinute || le.RetryAfter <= 0 || le.RetryAfter > time.Minute || retryAfterSeconds(le.RetryAfter) < 1 {
					t.Errorf("rejection %+v, want rpm with 0 < RetryAfter <= 60s", le)
				}
			default:
				t.Errorf("Admit: %v", err)
			}
		})
	}
	wg.Wait()
	if admitted.Load() != 60 {
		t.Errorf("admitted %d of 200 across 3 replicas, want exactly 60", admitted.Load())
	}
}

// TestRedisKeysExpire checks that every key the store writes carries a TTL.
func TestRedisKeysExpire(t *testing.T) {
	srv := startRedis(t)
	s := srv.newClient(t, "ttl:", nil)
	l, err := New(Config{}, s, Options{Logger: testLogger(t), DataDir: t.TempDir()}) // with a replica id: its lease index too
	if err != nil {
		t.Fatal(err)
	}
	l.wg.Wait()
	req := Request{
		Principal: "p", Limits: Limits{RPM: 10, TPM: 1000, MaxConcurrency: 2, TokensPerDay: 1000, TokensPerMonth: 1000,
			PerModel: map[string]ScopedLimits{"m": {RPM: 5}}, PerProfile: map[string]ScopedLimits{"f": {TPM: 500}}},
		Model: "m", Profile: "f", Deployment: "r/m", Capacity: Capacity{RPM: 10, TPM: 1000, MaxConcurrency: 2},
		InputTokens: 10, MaxTokens: 10,
	}
	r := mustAdmit(t, l, req)
	mustAdmit(t, l, req)
	r.Commit(t.Context(), inference.Usage{OutputTokens: 3})
	ctx := t.Context()
	s.SetCooldown(ctx, "r/m", time.Second)
	s.SetState(ctx, "circuit/r", "open", time.Second)
	keys, err := s.client.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, "ttl:own:") }) {
		t.Errorf("keys %v lack the replica's lease index", keys)
	}
	if len(keys) < 10 {
		t.Errorf("found %d keys (%v), want the rules' and shared-state keys", len(keys), keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "ttl:") {
			t.Errorf("key %q lacks the configured prefix", k)
		}
		ttl, err := s.client.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 {
			t.Errorf("key %q has TTL %v, want one that expires", k, ttl)
		}
	}
}

// TestRedisScriptCacheLost checks the EVAL fallback after SCRIPT FLUSH (a
// restarted or failed-over server has no scripts cached).
func TestRedisScriptCacheLost(t *testing.T) {
	srv := startRedis(t)
	s := srv.newClient(t, "flush:", nil)
	l := newTestLimiter(t, s, nil, Config{})
	req := Request{Principal: "p", Limits: Limits{RPM: 2}}
	mustAdmit(t, l, req)
	if err := s.client.ScriptFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	mustAdmit(t, l, req)
	mustReject(t, l, req)
}

// TestRedisOutage kills redis-server under load and starts it again: the
// limiter follows on_store_error, never panics, and recovers by itself.
func TestRedisOutage(t *testing.T) {
	for _, mode := range []string{FailClosed, FailOpen} {
		t.Run(mode, func(t *testing.T) {
			srv := startRedis(t)
			clock := newFakeClock(suiteStart) // drives health probes only; Redis keeps its TIME
			reg := prometheus.NewRegistry()
			cfg := Config{Store: StoreRedis, Redis: RedisConfig{URL: srv.url()}, OnStoreError: mode}
			l, err := Open(cfg, Options{Clock: clock, Logger: testLogger(t), Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req := Request{Principal: "p", Limits: Limits{RPM: 100000, MaxConcurrency: 100}, InputTokens: 1, MaxTokens: 1}

			held := mustAdmit(t, l, req)

			// Load from several goroutines while the server dies.
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						if r, err := l.Admit(ctx, req); err == nil {
							r.Commit(ctx, inference.Usage{OutputTokens: 1})
						} else if !errors.Is(err, ErrStoreUnavailable) && !errors.Is(err, ErrLimited) {
							t.Errorf("Admit during outage: %v", err)
							return
						}
					}
				})
			}
			srv.stop()
			clock.Advance(probeInterval)
			r, err := l.Admit(ctx, req)
			switch mode {
			case FailClosed:
				if !errors.Is(err, ErrStoreUnavailable) || r != nil {
					t.Errorf("fail_closed: Admit with redis down = %v, %v; want ErrStoreUnavailable", r, err)
				}
			case FailOpen:
				if err != nil || r == nil || r.Enforced() {
					t.Errorf("fail_open: Admit with redis down = %v, %v; want an unenforced reservation", r, err)
				} else if err := r.Commit(ctx, inference.Usage{}); err != nil {
					t.Errorf("fail_open: Commit of an unenforced reservation = %v", err)
				}
			}
			if l.Healthy() {
				t.Error("Healthy() = true with redis down")
			}
			if err := l.Check(ctx); !errors.Is(err, ErrStoreUnavailable) {
				t.Errorf("Check() with redis down = %v, want ErrStoreUnavailable", err)
			}
			if got := metricValue(t, reg, "meridian_quota_store_up", ""); got != 0 {
				t.Errorf("meridian_quota_store_up = %v with redis down, want 0", got)
			}
			if err := held.Commit(ctx, inference.Usage{OutputTokens: 1}); !errors.Is(err, ErrStoreUnavailable) {
				t.Errorf("Commit with redis down = %v, want ErrStoreUnavailable", err)
			}

			// Back up on the same port, empty (no persistence). go-redis
			// redials in the background about once a second; the limiter
			// probes once per probeInterval of its clock.
			srv.start()
			eventually(t, "an enforced admission after redis returned", func() bool {
				clock.Advance(probeInterval)
				r, err := l.Admit(ctx, req)
				if err != nil || !r.Enforced() {
					return false
				}
				r.Release(ctx)
				return true
			})
			if !l.Healthy() {
				t.Error("Healthy() = false after recovery")
			}
			if got := metricValue(t, reg, "meridian_quota_store_up", ""); got != 1 {
				t.Errorf("meridian_quota_store_up = %v after recovery, want 1", got)
			}
			close(stop)
			wg.Wait()
			if n := metricValue(t, reg, "meridian_quota_store_errors_total", "op=reserve"); n < 1 {
				t.Errorf("meridian_quota_store_errors_total{op=reserve} = %v, want > 0", n)
			}
		})
	}
}

// TestRedisCheckRecovers checks that readiness alone (no traffic) notices
// recovery: a node pulled from the load balancer must come back.
func TestRedisCheckRecovers(t *testing.T) {
	srv := startRedis(t)
	l, err := Open(Config{Store: StoreRedis, Redis: RedisConfig{URL: srv.url()}}, Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := t.Context()
	if err := l.Check(ctx); err != nil {
		t.Fatal(err)
	}
	srv.stop()
	if err := l.Check(ctx); err == nil || l.Healthy() {
		t.Fatalf("Check() with redis down = %v, Healthy() = %v", err, l.Healthy())
	}
	srv.start()
	eventually(t, "Check() to succeed after redis returned", func() bool { return l.Check(ctx) == nil })
	if !l.Healthy() {
		t.Error("Healthy() = false after Check() succeeded")
	}
}

// TestRedisReplicaRestart: a replica's restart frees the slots its dead
// run held in Redis (the server's own TIME), not another replica's.
func TestRedisReplicaRestart(t *testing.T) {
	srv := startRedis(t)
	testReplicaRestart(t, func() Store { return srv.newClient(t, "restart:", nil) }, nil)
}

// TestRedisSettlementRefused: a settlement whose script fails in Redis (a
// key of the wrong type) is refused, logged once and dropped; the store
// stays up for everyone and nothing is retried.
func TestRedisSettlementRefused(t *testing.T) {
	srv := startRedis(t)
	s := srv.newClient(t, "refused:", nil)
	reg := prometheus.NewRegistry()
	l, err := New(Config{}, s, Options{Logger: testLogger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := t.Context()
	req := Request{Principal: "p", Limits: Limits{TokensPerDay: 10000}, InputTokens: 10, MaxTokens: 10}
	r := mustAdmit(t, l, req)
	if err := s.client.Set(ctx, "refused:q:p/p:tokens_per_day", "not a hash", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.Commit(ctx, inference.Usage{OutputTokens: 5}); !errors.Is(err, ErrStoreRefused) || errors.Is(err, ErrStoreUnavailable) {
		t.Errorf("Commit = %v, want ErrStoreRefused", err)
	}
	if !l.Healthy() {
		t.Error("a refused settlement marked the store down")
	}
	if got := metricValue(t, reg, "meridian_quota_pending_settlements", ""); got != 0 {
		t.Errorf("meridian_quota_pending_settlements = %v, want 0 (nothing kept for retry)", got)
	}
	other := Request{Principal: "q", Limits: Limits{RPM: 1}}
	mustAdmit(t, l, other)
	// A reservation refused by the script is a refusal, not an outage.
	if _, err := l.Admit(ctx, req); !errors.Is(err, ErrStoreRefused) || !l.Healthy() {
		t.Errorf("Admit on a corrupt key = %v (healthy %v), want ErrStoreRefused and healthy", err, l.Healthy())
	}
}

// replyError is a server's error reply, as go-redis returns it.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// TestRedisRefusedClassification: only an error the same request would get
// again is a refusal; the server's transient states and connection errors
// make the store unavailable.
func TestRedisRefusedClassification(t *testing.T) {
	tests := []struct {
		err     error
		refused bool
	}{
		{replyError("ERR value is not an integer or out of range script: 86c7, on @user_script:38."), true},
		{replyError("ERR Error running script (call to f_86c7): @user_script:38: ERR increment or decrement would overflow"), true},
		{replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), true},
		{replyError("CROSSSLOT Keys in request don't hash to the same slot"), true},
		{replyError("MOVED 10840 127.0.0.1:7001"), false},
		{replyError("ASK 10840 127.0.0.1:7001"), false},
		{replyError("CLUSTERDOWN The cluster is down"), false},
		{replyError("TRYAGAIN Multiple keys request during rehashing of slot"), false},
		{replyError("OOM command not allowed when used memory > 'maxmemory'. script: 86c7, on @user_script:38."), false},
		{replyError("READONLY You can't write against a read only replica. script: 86c7, on @user_script:40."), false},
		{replyError("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."), false},
		{replyError("LOADING Redis is loading the dataset in memory"), false},
		{replyError("NOPERM User quota has no permissions to run the 'hset' command script: 86c7, on @user_script:38."), false},
		{replyError("ERR max number of clients reached"), false},
		{errConnRefused, false},
		{context.DeadlineExceeded, false},
	}
	for _, tc := range tests {
		got := refused(fmt.Errorf("commit quota: %w", tc.err))
		if errors.Is(got, ErrStoreRefused) != tc.refused {
			t.Errorf("refused(%q) = %v, want refused %v", tc.err, got, tc.refused)
		}
	}
}

// TestOpenReplicaIdentity: Open keeps a replica id for the Redis store
// (whose leases outlive the process), and none for the memory store.
func TestOpenReplicaIdentity(t *testing.T) {
	srv := startRedis(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg  Config
		want bool
	}{
		{Config{}, false},
		{Config{Store: StoreRedis, Redis: RedisConfig{URL: srv.url(), KeyPrefix: "open:"}}, true},
	} {
		l, err := Open(tc.cfg, Options{Logger: testLogger(t), DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if got := l.Replica() != ""; got != tc.want {
			t.Errorf("Open(store %q) with a data directory: Replica() = %q, want an id %v", tc.cfg.Store, l.Replica(), tc.want)
		}
		l.Close()
	}
}
