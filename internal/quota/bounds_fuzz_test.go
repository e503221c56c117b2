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
		clock := newFakeClock(suiteStart)
		l := newTestLimiter(t, NewMemory(clock), clock, Config{})
		limits := Limits{TPM: 2000, TokensPerDay: 5000}
		req := Request{Principal: "f", Limits: limits, InputTokens: input, MaxTokens: maxTokens}
		var counted int64
		for i := range 5 {
			r, err := l.Admit(t.Context(), req)
			var le *LimitError
			var re *RequestError
			switch {
			case err == nil:
				if r.Tokens() < 0 || r.Tokens() > MaxRequestTokens || counted+r.Tokens() > 2000 {
					t.Fatalf("admission %d reserved %d tokens after %d counted; limit 2000", i, r.Tokens(), counted)
				}
				u := inference.Usage{InputTokens: usageIn, OutputTokens: usageOut}
				if err := r.Commit(t.Context(), u); err != nil {
					t.Fatalf("Commit(%+v) = %v", u, err)
				}
				counted += usageTokens(u, 1)
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
		clock := newFakeClock(suiteStart)
		l := newTestLimiter(t, NewMemory(clock), clock, Config{DailyDefault: DailyDefaultBedrock})
		limits := Limits{PerModel: map[string]ScopedLimits{"m": {Pools: &Pools{Global: &PoolLimits{TPM: 3000}}}}}
		req := Request{Principal: "f", Limits: limits, Model: "m", Pool: PoolGlobal, SourceRegion: "eu-west-1",
			InputTokens: input, MaxTokens: maxTokens, OutputBurndown: burndown}
		var counted int64
		for i := range 4 {
			r, err := l.Admit(t.Context(), req)
			var le *LimitError
			var re *RequestError
			switch {
			case err == nil:
				if r.Tokens() < 0 || r.Tokens() > MaxRequestTokens || counted+r.Tokens() > 3000 {
					t.Fatalf("admission %d reserved %d tokens after %d counted; limit 3000", i, r.Tokens(), counted)
				}
				u := inference.Usage{InputTokens: usageIn, OutputTokens: usageOut, CacheReadInputTokens: cacheRead, CacheWriteInputTokens: usageIn}
				if err := r.Commit(t.Context(), u); err != nil {
					t.Fatalf("Commit(%+v) = %v", u, err)
				}
				if n := usageTokens(u, burndown); n < 0 || n > MaxRequestTokens {
					t.Fatalf("usageTokens(%+v, %d) = %d", u, burndown, n)
				}
				counted += usageTokens(u, burndown)
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
	})
}
