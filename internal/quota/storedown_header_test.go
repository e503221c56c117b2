package quota

import (
	"errors"
	"net/http"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestHeadersWhileStoreDown: while the store is down no x-ratelimit-*
// header claims a count the limiter does not know. fail_open admits
// unenforced with an empty Status (no headers); fail_closed refuses as
// unavailable (503, Retry-After of storeRetryAfter), not as a limit (no
// headers, not ErrLimited). Once the store answers, the headers come back
// and count only the enforced admissions.
func TestHeadersWhileStoreDown(t *testing.T) {
	for _, mode := range []string{FailOpen, FailClosed} {
		t.Run(mode, func(t *testing.T) {
			clock := newFakeClock(suiteStart)
			fs := &faultyStore{Store: NewMemory(clock)}
			l := newTestLimiter(t, fs, clock, Config{OnStoreError: mode})
			defer l.Close()
			req := Request{Principal: "hdr", Limits: Limits{RPM: 10, TPM: 1000}, InputTokens: 10, MaxTokens: 10}
			mustAdmit(t, l, req)
			fs.down.Store(true)
			for i := range 3 {
				clock.Advance(probeInterval) // each one a probe, failing
				r, err := l.Admit(t.Context(), req)
				switch mode {
				case FailOpen:
					if err != nil || r.Enforced() {
						t.Fatalf("admission %d: %v, %v; want unenforced", i, r, err)
					}
					h := http.Header{}
					r.Status().SetHeaders(h)
					if len(h) != 0 {
						t.Errorf("admission %d while down: headers %v, want none", i, h)
					}
				case FailClosed:
					if errors.Is(err, ErrLimited) || !errors.Is(err, ErrStoreUnavailable) {
						t.Fatalf("admission %d: %v, want ErrStoreUnavailable", i, err)
					}
					if e := AsInferenceError(err); e.Kind != inference.KindUnavailable || e.RetryAfter != storeRetryAfter || len(e.Header) != 0 {
						t.Errorf("admission %d: %+v, want unavailable, Retry-After %s, no headers", i, e, storeRetryAfter)
					}
				}
			}
			fs.down.Store(false)
			clock.Advance(probeInterval)
			r := mustAdmit(t, l, req)
			h := http.Header{}
			r.Status().SetHeaders(h)
			// Two enforced admissions of 20 tokens each: the outage's
			// unenforced ones are not counted (docs/quotas.md).
			if h.Get(HeaderRemainingRequests) != "8" || h.Get(HeaderRemainingTokens) != "960" {
				t.Errorf("headers after recovery = %v, want 8 requests and 960 tokens remaining", h)
			}
		})
	}
}
