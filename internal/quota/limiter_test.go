package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"

	"github.com/meridian-gateway/meridian/internal/inference"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		fields []string // fields named by the errors, in order
	}{
		{"zero", Config{}, nil},
		{"default", Default(), nil},
		{"redis", Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://127.0.0.1:6379/0"}, OnStoreError: FailOpen}, nil},
		{"redis without url", Config{Store: StoreRedis}, []string{"quota.redis.url"}},
		{"bad url", Config{Store: StoreRedis, Redis: RedisConfig{URL: "http://x"}}, []string{"quota.redis.url"}},
		{"cluster", Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://10.0.0.5:6379?addr=10.0.0.6:6379&addr=10.0.0.7:6379", Cluster: true}}, nil},
		{"cluster one seed", Config{Store: StoreRedis, Redis: RedisConfig{URL: "rediss://u:pw@cfg.example:6379/0", KeyPrefix: "eu-west-1:", Cluster: true}}, nil},
		{"cluster socket", Config{Store: StoreRedis, Redis: RedisConfig{URL: "unix:///run/redis.sock", Cluster: true}}, []string{"quota.redis.url"}},
		{"cluster database", Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://10.0.0.5:6379/3", Cluster: true}}, []string{"quota.redis.url"}},
		{"cluster braces", Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://10.0.0.5:6379", KeyPrefix: "{eu}:", Cluster: true}}, []string{"quota.redis.key_prefix"}},
		{"cluster everything wrong", Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://10.0.0.5:6379/1", KeyPrefix: "}", Cluster: true}},
			[]string{"quota.redis.url", "quota.redis.key_prefix"}},
		{"cluster reads from replicas", Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://10.0.0.5:6379?route_by_latency=true", Cluster: true}}, []string{"quota.redis.url"}},
		{"cluster reads from primaries", Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://10.0.0.5:6379?read_only=false", Cluster: true}}, nil},
		{"addr without cluster", Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://10.0.0.5:6379?addr=10.0.0.6:6379"}}, []string{"quota.redis.url"}},
		{"braces without cluster", Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://10.0.0.5:6379", KeyPrefix: "{eu}:"}}, nil},
		{"everything wrong", Config{Store: "etcd", OnStoreError: "panic", DefaultMaxTokens: -1, LeaseTTL: -time.Second},
			[]string{"quota.store", "quota.on_store_error", "quota.default_max_tokens", "quota.lease_ttl"}},
		{"out of bounds", Config{DefaultMaxTokens: MaxRequestTokens + 1, LeaseTTL: 31 * 24 * time.Hour},
			[]string{"quota.default_max_tokens", "quota.lease_ttl"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.fields, errorFields(tc.cfg.Validate())); diff != "" {
				t.Errorf("Validate(%+v) fields (-want +got):\n%s", tc.cfg, diff)
			}
		})
	}
}

func TestLimitsValidate(t *testing.T) {
	l := Limits{RPM: -1, PerModel: map[string]ScopedLimits{"m": {TPM: -5}}, PerProfile: map[string]ScopedLimits{"f": {TokensPerMonth: -1}}}
	want := []string{"principals[0].limits.rpm", "principals[0].limits.per_model.m.tpm", "principals[0].limits.per_profile.f.tokens_per_month"}
	if diff := cmp.Diff(want, errorFields(l.Validate("principals[0].limits"))); diff != "" {
		t.Errorf("Validate fields (-want +got):\n%s", diff)
	}
}

func errorFields(err error) []string {
	var out []string
	var walk func(error)
	walk = func(err error) {
		var ce *ConfigError
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		} else if errors.As(err, &ce) {
			out = append(out, ce.Field)
		}
	}
	if err != nil {
		walk(err)
	}
	return out
}

// TestConfigYAML checks that the topology file's shapes decode into the
// mirrored types.
func TestConfigYAML(t *testing.T) {
	const doc = `
quota:
  store: redis
  redis: {url: "redis://10.0.0.5:6379/2", key_prefix: "eu-west-1:"}
  on_store_error: fail_open
  default_max_tokens: 2048
  lease_ttl: 10m
limits:
  rpm: 60
  tpm: 10000
  max_concurrency: 4
  tokens_per_day: 1000000
  tokens_per_month: 20000000
  per_model: {demo.chat-small: {rpm: 10, tpm: 2000}}
  per_profile: {claims-eu: {tokens_per_day: 5000}}
capacity: {max_concurrency: 16, rpm: 1200, tpm: 400000}
`
	var got struct {
		Quota    Config   `yaml:"quota"`
		Limits   Limits   `yaml:"limits"`
		Capacity Capacity `yaml:"capacity"`
	}
	if err := yaml.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatal(err)
	}
	want := got
	want.Quota = Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://10.0.0.5:6379/2", KeyPrefix: "eu-west-1:"}, OnStoreError: FailOpen, DefaultMaxTokens: 2048, LeaseTTL: 10 * time.Minute}
	want.Limits = Limits{RPM: 60, TPM: 10000, MaxConcurrency: 4, TokensPerDay: 1000000, TokensPerMonth: 20000000,
		PerModel: map[string]ScopedLimits{"demo.chat-small": {RPM: 10, TPM: 2000}}, PerProfile: map[string]ScopedLimits{"claims-eu": {TokensPerDay: 5000}}}
	want.Capacity = Capacity{MaxConcurrency: 16, RPM: 1200, TPM: 400000}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
	if err := got.Quota.Validate(); err != nil {
		t.Error(err)
	}
	var cluster struct {
		Quota Config `yaml:"quota"`
	}
	if err := yaml.Unmarshal([]byte(`quota: {store: redis, redis: {url: "redis://10.0.0.5:6379", cluster: true}}`), &cluster); err != nil {
		t.Fatal(err)
	}
	if !cluster.Quota.Redis.Cluster {
		t.Errorf("quota.redis.cluster: true decoded as %+v", cluster.Quota.Redis)
	}
}

// TestConfigErrorHidesURL: a URL may carry a password (password_env puts
// it there), so an error about it names the field, never the value.
func TestConfigErrorHidesURL(t *testing.T) {
	for _, u := range []string{"http://user:s3cret@x", "redis://user:s3cret@x:6379/7", "unix://user:s3cret@/x"} {
		cfg := Config{Store: StoreRedis, Redis: RedisConfig{URL: u, Cluster: true}}
		err := cfg.Validate()
		if err == nil {
			t.Errorf("Validate(%q) = nil, want an error", u)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Validate(%q) = %v, echoes the password", u, err)
		}
		if _, err := NewRedis(cfg.Redis); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("NewRedis(%q) = %v, want an error without the password", u, err)
		}
	}
}

func TestFormatReset(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{20 * time.Millisecond, "20ms"},
		{19*time.Millisecond + time.Microsecond, "20ms"},
		{time.Second, "1s"},
		{1500 * time.Millisecond, "1.5s"},
		{6 * time.Minute, "6m0s"},
		{59*time.Second + 999*time.Millisecond + time.Microsecond, "1m0s"},
	}
	for _, tc := range tests {
		if got := FormatReset(tc.d); got != tc.want {
			t.Errorf("FormatReset(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestHeaders(t *testing.T) {
	e := &LimitError{
		Scope: ScopePrincipal, Name: "p", Kind: RequestsPerMinute, Limit: 60, Remaining: 0, Requested: 1,
		RetryAfter: 30*time.Second + time.Millisecond,
		Status:     Status{Requests: Meter{Limit: 60, Remaining: 0, Reset: 59 * time.Second}},
	}
	h := http.Header{}
	e.SetHeaders(h)
	want := http.Header{
		"Retry-After":                    {"31"},
		"X-Ratelimit-Limit-Requests":     {"60"},
		"X-Ratelimit-Remaining-Requests": {"0"},
		"X-Ratelimit-Reset-Requests":     {"59s"},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("LimitError.SetHeaders (-want +got):\n%s", diff)
	}

	h = http.Header{}
	Status{
		Requests: Meter{Limit: 60, Remaining: 59, Reset: time.Minute},
		Tokens:   Meter{Limit: 10000, Remaining: 9400, Reset: 1500 * time.Millisecond},
	}.SetHeaders(h)
	want = http.Header{
		"X-Ratelimit-Limit-Requests":     {"60"},
		"X-Ratelimit-Remaining-Requests": {"59"},
		"X-Ratelimit-Reset-Requests":     {"1m0s"},
		"X-Ratelimit-Limit-Tokens":       {"10000"},
		"X-Ratelimit-Remaining-Tokens":   {"9400"},
		"X-Ratelimit-Reset-Tokens":       {"1.5s"},
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("Status.SetHeaders (-want +got):\n%s", diff)
	}

	for _, d := range []time.Duration{time.Microsecond, time.Millisecond, 999 * time.Millisecond, time.Second} {
		if got := retryAfterSeconds(d); got != 1 {
			t.Errorf("retryAfterSeconds(%v) = %d, want 1 (never 0 for a rejection)", d, got)
		}
	}
}

func TestLimitErrorInferenceError(t *testing.T) {
	tests := []struct {
		name     string
		e        *LimitError
		code     string
		contains string
	}{
		{"rpm", &LimitError{Scope: ScopePrincipal, Name: "p", Kind: RequestsPerMinute, Limit: 60, Requested: 1, RetryAfter: 2 * time.Second}, "rate_limit_exceeded", "rpm: limit 60"},
		{"budget", &LimitError{Scope: ScopeModel, Name: "p/m", Kind: TokensPerDay, Limit: 1000, Requested: 600, RetryAfter: time.Hour}, "insufficient_quota", "Daily token budget"},
		{"deployment", &LimitError{Scope: ScopeDeployment, Name: "eu-west-1/m", Kind: Concurrency, Limit: 8, RetryAfter: time.Second}, "rate_limit_exceeded", "at capacity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ie := tc.e.InferenceError()
			if ie.Kind != inference.KindThrottled || ie.Kind.Status() != http.StatusTooManyRequests || ie.RetryAfter != tc.e.RetryAfter || ie.Code != tc.code {
				t.Errorf("InferenceError() = %+v, want throttled, code %q, RetryAfter %v", ie, tc.code, tc.e.RetryAfter)
			}
			if !strings.Contains(ie.Message, tc.contains) || strings.Contains(ie.Message, "eu-west-1") {
				t.Errorf("Message = %q, want it to contain %q and name no deployment", ie.Message, tc.contains)
			}
			if !errors.Is(ie, ErrLimited) {
				t.Error("InferenceError() does not wrap the LimitError")
			}
		})
	}
}

// faultyStore wraps a store and fails every call while down.
type faultyStore struct {
	Store
	down  atomic.Bool
	calls atomic.Int64
}

var errConnRefused = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (f *faultyStore) fail() error {
	f.calls.Add(1)
	if f.down.Load() {
		return errConnRefused
	}
	return nil
}

func (f *faultyStore) Reserve(ctx context.Context, c Claim) (Outcome, error) {
	if err := f.fail(); err != nil {
		return Outcome{}, err
	}
	return f.Store.Reserve(ctx, c)
}

func (f *faultyStore) Commit(ctx context.Context, c Claim, w []int64, actual int64) error {
	if err := f.fail(); err != nil {
		return err
	}
	return f.Store.Commit(ctx, c, w, actual)
}

func (f *faultyStore) Cooldowns(ctx context.Context, keys []string) (map[string]time.Duration, error) {
	if err := f.fail(); err != nil {
		return nil, err
	}
	return f.Store.Cooldowns(ctx, keys)
}

func (f *faultyStore) Ping(ctx context.Context) error { return f.fail() }

// logRecorder is a slog.Handler that keeps messages.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }
func (r *logRecorder) messages() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

func TestStoreFailure(t *testing.T) {
	for _, mode := range []string{FailClosed, FailOpen} {
		t.Run(mode, func(t *testing.T) {
			clock := newFakeClock(suiteStart)
			fs := &faultyStore{Store: NewMemory(clock)}
			logs := &logRecorder{}
			reg := prometheus.NewRegistry()
			l, err := New(Config{OnStoreError: mode}, fs, Options{Clock: clock, Logger: slog.New(logs), Registerer: reg})
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			req := Request{Principal: "p", Limits: Limits{RPM: 100}}
			held := mustAdmit(t, l, req)

			fs.down.Store(true)
			before := fs.calls.Load()
			for i := range 1000 {
				r, err := l.Admit(ctx, req)
				switch mode {
				case FailClosed:
					if !errors.Is(err, ErrStoreUnavailable) || errors.Is(err, ErrLimited) {
						t.Fatalf("request %d: Admit = %v, want ErrStoreUnavailable", i, err)
					}
				case FailOpen:
					if err != nil || r.Enforced() {
						t.Fatalf("request %d: Admit = %v, %v; want an unenforced admission", i, r, err)
					}
					if err := r.Commit(ctx, inference.Usage{OutputTokens: 1}); err != nil {
						t.Fatalf("Commit of an unenforced reservation = %v", err)
					}
				}
				clock.Advance(100 * time.Millisecond) // 100 s in all
			}
			// One try when it failed, then one probe per second.
			if got := fs.calls.Load() - before; got < 100 || got > 101 {
				t.Errorf("store called %d times for 1000 requests over 100s down, want one probe a second", got)
			}
			if l.Healthy() {
				t.Error("Healthy() = true while the store is down")
			}
			if err := held.Commit(ctx, inference.Usage{}); !errors.Is(err, ErrStoreUnavailable) {
				t.Errorf("Commit while down = %v, want ErrStoreUnavailable", err)
			}
			if _, err := l.Cooldowns(ctx, []string{"d"}); !errors.Is(err, ErrStoreUnavailable) {
				t.Errorf("Cooldowns while down = %v, want ErrStoreUnavailable", err)
			}
			// First failure logged at once, then one line per 30s.
			wantLogs := []string{"ERROR quota store unavailable", "WARN quota store still unavailable", "WARN quota store still unavailable", "WARN quota store still unavailable"}
			if diff := cmp.Diff(wantLogs, logs.messages()); diff != "" {
				t.Errorf("logs over 100s of outage (-want +got):\n%s", diff)
			}
			if got := metricValue(t, reg, "meridian_quota_store_up", ""); got != 0 {
				t.Errorf("meridian_quota_store_up = %v, want 0", got)
			}
			result := map[string]string{FailClosed: resultFailedClosed, FailOpen: resultFailedOpen}[mode]
			if got := metricValue(t, reg, "meridian_quota_admissions_total", "result="+result); got != 1000 {
				t.Errorf("meridian_quota_admissions_total{result=%q} = %v, want 1000", result, got)
			}

			fs.down.Store(false)
			clock.Advance(probeInterval)
			if r := mustAdmit(t, l, req); !r.Enforced() {
				t.Error("admission after recovery not enforced")
			}
			if !l.Healthy() || metricValue(t, reg, "meridian_quota_store_up", "") != 1 {
				t.Error("not healthy after a successful probe")
			}
			if got := logs.messages(); got[len(got)-1] != "INFO quota store recovered" {
				t.Errorf("last log = %q, want the recovery", got[len(got)-1])
			}
		})
	}
}

// TestAdmitCancelled checks that a request whose context is done is not
// counted as a store outage.
func TestAdmitCancelled(t *testing.T) {
	clock := newFakeClock(suiteStart)
	fs := &faultyStore{Store: NewMemory(clock)}
	l := newTestLimiter(t, fs, clock, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Admit(ctx, Request{Principal: "p", Limits: Limits{RPM: 1}}); !errors.Is(err, context.Canceled) {
		t.Errorf("Admit with a cancelled context = %v, want context.Canceled", err)
	}
	if !l.Healthy() {
		t.Error("a cancelled request marked the store down")
	}
}

func TestAdmitWithoutLimits(t *testing.T) {
	fs := &faultyStore{Store: NewMemory(nil)}
	fs.down.Store(true)
	l := newTestLimiter(t, fs, nil, Config{})
	r, err := l.Admit(t.Context(), Request{Principal: "free", Deployment: "r/m", InputTokens: 10})
	if err != nil || !r.Enforced() || r.Status() != (Status{}) {
		t.Fatalf("Admit without limits = %+v, %v", r, err)
	}
	if err := r.Commit(t.Context(), inference.Usage{OutputTokens: 5}); err != nil {
		t.Fatal(err)
	}
	if fs.calls.Load() != 0 {
		t.Errorf("store called %d times for a request without limits, want 0", fs.calls.Load())
	}
}

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := New(Config{}, NewMemory(nil), Options{Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{}, NewMemory(nil), Options{Registerer: reg}); err == nil {
		t.Error("registering twice on one registry succeeded, want an error")
	}
}

func ExampleLimiter() {
	l, _ := Open(Config{}, Options{}) // memory store
	defer l.Close()
	ctx := context.Background()
	req := Request{
		Principal: "claims-service", Limits: Limits{RPM: 2, TPM: 10000},
		Model: "demo.chat-small", Profile: "eu.demo.chat-small",
		Deployment: "eu-west-1/demo.chat-small", Capacity: Capacity{MaxConcurrency: 8},
		InputTokens: 120, MaxTokens: 256,
	}
	for range 3 {
		res, err := l.Admit(ctx, req)
		var le *LimitError
		if errors.As(err, &le) {
			fmt.Println("rejected:", le.Kind, "limit", le.Limit, "remaining", le.Remaining)
			continue
		}
		h := http.Header{}
		res.Status().SetHeaders(h)
		fmt.Println("admitted: remaining requests", h.Get(HeaderRemainingRequests), "tokens", h.Get(HeaderRemainingTokens))
		res.Commit(ctx, inference.Usage{InputTokens: 118, OutputTokens: 80})
	}
	// Output:
	// admitted: remaining requests 1 tokens 9624
	// admitted: remaining requests 0 tokens 9426
	// rejected: rpm limit 2 remaining 0
}

// TestPendingSettlementsRetried checks that a Commit that failed while the
// store was down is applied once it answers again, so a concurrency slot
// does not stay held until its lease ends.
func TestPendingSettlementsRetried(t *testing.T) {
	clock := newFakeClock(suiteStart)
	fs := &faultyStore{Store: NewMemory(clock)}
	reg := prometheus.NewRegistry()
	l, err := New(Config{}, fs, Options{Clock: clock, Logger: testLogger(t), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	req := Request{Principal: "p", Limits: Limits{MaxConcurrency: 1, TokensPerDay: 1000}, InputTokens: 100, MaxTokens: 400}
	r := mustAdmit(t, l, req)

	fs.down.Store(true)
	if err := r.Commit(t.Context(), inference.Usage{InputTokens: 100, OutputTokens: 50}); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("Commit while down = %v, want ErrStoreUnavailable", err)
	}
	if got := metricValue(t, reg, "meridian_quota_pending_settlements", ""); got != 1 {
		t.Errorf("meridian_quota_pending_settlements = %v, want 1", got)
	}

	fs.down.Store(false)
	clock.Advance(probeInterval)
	// The probe finds the slot still held, and starts the retry.
	if le := mustReject(t, l, req); le.Kind != Concurrency {
		t.Fatalf("probe rejected by %v, want max_concurrency", le.Kind)
	}
	l.wg.Wait()
	if got := metricValue(t, reg, "meridian_quota_pending_settlements", ""); got != 0 {
		t.Errorf("meridian_quota_pending_settlements after the retry = %v, want 0", got)
	}
	mustAdmit(t, l, req) // slot freed, 150 + 500 of the day's 1000 used
	small := req
	small.Limits.MaxConcurrency = 0
	small.InputTokens, small.MaxTokens = 100, 250
	mustAdmit(t, l, small) // exactly 1000: the commit replaced 500 by 150
}

func TestAsInferenceError(t *testing.T) {
	le := &LimitError{Scope: ScopePrincipal, Name: "p", Kind: RequestsPerMinute, Limit: 1, RetryAfter: 3 * time.Second}
	tests := []struct {
		name  string
		err   error
		kind  inference.ErrorKind
		retry time.Duration
		isNil bool
	}{
		{"limit", fmt.Errorf("admit: %w", le), inference.KindThrottled, 3 * time.Second, false},
		{"store", fmt.Errorf("%w: %w", ErrStoreUnavailable, errConnRefused), inference.KindUnavailable, time.Second, false},
		{"cancelled", context.Canceled, 0, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ie := AsInferenceError(tc.err)
			if tc.isNil {
				if ie != nil {
					t.Errorf("AsInferenceError(%v) = %v, want nil", tc.err, ie)
				}
				return
			}
			if ie == nil || ie.Kind != tc.kind || ie.RetryAfter != tc.retry {
				t.Fatalf("AsInferenceError(%v) = %+v, want kind %v, RetryAfter %v", tc.err, ie, tc.kind, tc.retry)
			}
			if strings.Contains(ie.Message, "refused") {
				t.Errorf("public message %q leaks the internal cause", ie.Message)
			}
		})
	}
}

// TestTooLargeIsARefusal: a request larger than a limit's whole window or
// period never fits, whenever it is retried, so it is a 400 that says so
// (naming the limit and the fix), without Retry-After, not a 429.
func TestTooLargeIsARefusal(t *testing.T) {
	tests := []struct {
		name     string
		e        *LimitError
		contains []string
	}{
		{"tpm", &LimitError{Scope: ScopePrincipal, Name: "p", Kind: TokensPerMinute, Limit: 1000, Requested: 5000, TooLarge: true, RetryAfter: time.Minute},
			[]string{"Request too large", "tpm is 1000", "reserves 5000 tokens", "lower max_tokens"}},
		{"day", &LimitError{Scope: ScopeProfile, Name: "p/f", Kind: TokensPerDay, Limit: 5000, Requested: MaxRequestTokens, TooLarge: true, RetryAfter: time.Hour},
			[]string{"Daily token budget", "tokens_per_day is 5000", "reserves 1099511627776 tokens"}},
		{"deployment", &LimitError{Scope: ScopeDeployment, Name: "eu-west-1/m", Kind: TokensPerMinute, Limit: 1000, Requested: 5000, TooLarge: true, RetryAfter: time.Minute},
			[]string{"Request too large for the model's capacity", "reserves 5000 tokens", "lower max_tokens"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ie := AsInferenceError(fmt.Errorf("admit: %w", tc.e))
			if ie.Kind != inference.KindInvalidRequest || ie.Kind.Status() != http.StatusBadRequest || ie.RetryAfter != 0 || ie.Code != "request_too_large" {
				t.Errorf("AsInferenceError(%v) = %+v, want invalid_request (400), code request_too_large, no RetryAfter", tc.e, ie)
			}
			for _, c := range tc.contains {
				if !strings.Contains(ie.Message, c) {
					t.Errorf("Message = %q, want it to contain %q", ie.Message, c)
				}
			}
			if strings.Contains(ie.Message, "eu-west-1") || strings.Contains(ie.Message, "retry") {
				t.Errorf("Message = %q names the deployment or suggests retrying", ie.Message)
			}
			if !errors.Is(ie, ErrLimited) {
				t.Error("the refusal does not wrap the LimitError")
			}
		})
	}
}

// TestFormatResetIsDurationString checks FormatReset, which formats by
// hand, against time.Duration's String of the rounded-up duration, over
// every millisecond of the first two minutes and a spread beyond.
func TestFormatResetIsDurationString(t *testing.T) {
	t.Parallel()
	check := func(d time.Duration) {
		t.Helper()
		want := ((d + time.Millisecond - 1) / time.Millisecond * time.Millisecond).String()
		if got := FormatReset(d); got != want {
			t.Fatalf("FormatReset(%d) = %q, want %q", d, got, want)
		}
	}
	for ms := time.Duration(1); ms <= 2*60*1000; ms++ {
		check(ms * time.Millisecond)
		check(ms*time.Millisecond - time.Microsecond)
	}
	for d := time.Hour - time.Second; d < 1<<62; d = d*3 + 7*time.Microsecond {
		check(d)
	}
	check(time.Duration(1<<63 - 1 - int64(time.Millisecond)))
}

// TestStatusSetHeadersAllocs pins the rate-limit headers' cost: one string
// holding all six values and one array of values shared by the six fields.
// A header with room for the keys is reused, so that map growth is not
// counted.
func TestStatusSetHeadersAllocs(t *testing.T) {
	s := Status{
		Requests: Meter{Limit: 60, Remaining: 59, Reset: time.Minute},
		Tokens:   Meter{Limit: 10000, Remaining: 9400, Reset: 1500 * time.Millisecond},
	}
	h := http.Header{}
	s.SetHeaders(h)
	if n := testing.AllocsPerRun(100, func() { s.SetHeaders(h) }); n != 2 {
		t.Errorf("Status.SetHeaders: %v allocations, want 2", n)
	}
	one := Status{Tokens: s.Tokens}
	got := http.Header{}
	one.SetHeaders(got)
	want := http.Header{"X-Ratelimit-Limit-Tokens": {"10000"}, "X-Ratelimit-Remaining-Tokens": {"9400"}, "X-Ratelimit-Reset-Tokens": {"1.5s"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Status.SetHeaders of tokens only (-want +got):\n%s", diff)
	}
	if n := testing.AllocsPerRun(100, func() { one.SetHeaders(h) }); n != 2 {
		t.Errorf("Status.SetHeaders of tokens only: %v allocations, want 2", n)
	}
	if n := testing.AllocsPerRun(100, func() { Status{}.SetHeaders(h) }); n != 0 {
		t.Errorf("Status.SetHeaders of no limits: %v allocations, want 0", n)
	}
}
