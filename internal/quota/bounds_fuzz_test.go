package quota

import (
	"errors"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// FuzzTokenBounds: whatever token counts a caller sends and a backend
// reports, a caller with 2,000 tokens a minute and 5,000 a day is never
// admitted beyond what its committed usage left, and the store never
// reports a negative or over-limit remainder.
func FuzzTokenBounds(f *testing.F) {
	const maxInt = int(^uint(0) >> 1)
	f.Add(30, maxInt, 30, 1000)
	f.Add(30, 1<<62, maxInt, maxInt)
	f.Add(maxInt, maxInt, -maxInt-1, maxInt)
	f.Add(0, 0, 1<<53+1, 0)
	f.Add(-1, -1, -1, -1)
	f.Fuzz(func(t *testing.T, input, maxTokens, usageIn, usageOut int) {
		checkBounds(t, boundsCase{
			config: Config{},
			req: Request{Principal: "f", Limits: Limits{TPM: 2000, TokensPerDay: 5000},
				InputTokens: input, MaxTokens: maxTokens},
			limit: 2000, admissions: 5, burndown: 1,
			usage: inference.Usage{InputTokens: usageIn, OutputTokens: usageOut},
		})
	})
}

// FuzzBurndownBounds: with any burndown rate and any usage a backend
// reports, cache reads included, a reservation and a commit stay within
// 0..MaxRequestTokens, the pool's counter is never driven past its limit
// by an admission, and the store stays healthy.
func FuzzBurndownBounds(f *testing.F) {
	const maxInt = int(^uint(0) >> 1)
	f.Add(30, 100, 5, 10, 20, 1000)
	f.Add(0, maxInt, maxInt, maxInt, maxInt, maxInt)
	f.Add(-1, 1<<40, 1<<30, -5, 1<<62, -1)
	f.Fuzz(func(t *testing.T, input, maxTokens, burndown, usageIn, usageOut, cacheRead int) {
		limits := Limits{PerModel: map[string]ScopedLimits{"m": {Pools: &Pools{Global: &PoolLimits{TPM: 3000}}}}}
		checkBounds(t, boundsCase{
			config: Config{DailyDefault: DailyDefaultBedrock},
			req: Request{Principal: "f", Limits: limits, Model: "m", Pool: PoolGlobal, SourceRegion: "eu-west-1",
				InputTokens: input, MaxTokens: maxTokens, OutputBurndown: burndown},
			limit: 3000, admissions: 4, burndown: burndown,
			usage: inference.Usage{InputTokens: usageIn, OutputTokens: usageOut, CacheReadInputTokens: cacheRead, CacheWriteInputTokens: usageIn},
		})
	})
}

// boundsCase is one fuzz input of the bounds targets: a request admitted
// the given number of times, a second apart, against a fresh memory store,
// each admission committing usage.
type boundsCase struct {
	config     Config
	req        Request
	limit      int64 // the tokens a minute the request's limits allow
	admissions int
	burndown   int // the output burndown rate usage is counted at
	usage      inference.Usage
}

// checkBounds runs c and fails t when an admission reserves more than
// what the committed usage left of c.limit, a reservation or a commit
// leaves 0..MaxRequestTokens, a rejection reports a negative or
// over-limit remainder, a valid request (no negative count) is refused as
// malformed, or the store is marked down.
func checkBounds(t *testing.T, c boundsCase) {
	t.Helper()
	clock := newFakeClock(suiteStart)
	l := newTestLimiter(t, NewMemory(clock), clock, c.config)
	input, maxTokens := c.req.InputTokens, c.req.MaxTokens
	var counted int64
	for i := range c.admissions {
		r, err := l.Admit(t.Context(), c.req)
		var le *LimitError
		var re *RequestError
		switch {
		case err == nil:
			if r.Tokens() < 0 || r.Tokens() > MaxRequestTokens || counted+r.Tokens() > c.limit {
				t.Fatalf("admission %d reserved %d tokens after %d counted; limit %d", i, r.Tokens(), counted, c.limit)
			}
			if err := r.Commit(t.Context(), c.usage); err != nil {
				t.Fatalf("Commit(%+v) = %v", c.usage, err)
			}
			n := usageTokens(c.usage, c.burndown)
			if n < 0 || n > MaxRequestTokens {
				t.Fatalf("usageTokens(%+v, %d) = %d", c.usage, c.burndown, n)
			}
			counted += n
		case errors.As(err, &le):
			if le.Remaining < 0 || le.Remaining > le.Limit {
				t.Fatalf("rejection reports %d remaining of %d", le.Remaining, le.Limit)
			}
		case errors.As(err, &re):
			if input >= 0 && maxTokens >= 0 {
				t.Fatalf("Admit(input %d, max %d) = %v, want no RequestError", input, maxTokens, err)
			}
			return
		default:
			t.Fatalf("Admit = %v", err)
		}
		clock.Advance(time.Second)
	}
	if !l.Healthy() {
		t.Fatal("store marked down")
	}
}
