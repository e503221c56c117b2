package gateway

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestTranslationRefusalFailsOver: a deployment whose translator cannot
// express a field of a valid request (translate.UnsupportedError, as
// package dialect converts it) makes the gateway try the next destination
// without blaming the deployment; when every destination refuses, the
// caller gets the 400 naming the field; a request the client got wrong
// fails at once, whatever the other destination could do.
func TestTranslationRefusalFailsOver(t *testing.T) {
	t.Parallel()
	refuse := func() error {
		return dialect.Refusal(&translate.UnsupportedError{Field: "thinking.budget_tokens", Target: "Amazon Nova", Reason: "at most 16383 with a token limit"})
	}
	malformed := func() error {
		return inference.Invalid("max_tokens", "max_tokens must be at least 1")
	}
	// A value the client's API does not define, as a deployment's real
	// translation classifies it: the client's mistake, answered at once.
	bogus := func() error {
		_, err := translate.Request(translate.OpenAI, translate.Converse, []byte(`{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"bogus"}`), "m", false, translate.Options{})
		return dialect.Refusal(err)
	}
	serve := func() error { return nil }
	throttled := func() error {
		return &inference.Error{Kind: inference.KindThrottled, RetryAfter: 30 * time.Second, UpstreamStatus: 429, Message: "slow down"}
	}
	cases := []struct {
		name          string
		local, remote func() error
		wantKind      inference.ErrorKind
		wantParam     string
		wantCalls     int64 // backend calls, both regions
		wantAttempts  int
		wantErrorFree bool
	}{
		{name: "local refuses, remote serves", local: refuse, remote: serve, wantCalls: 2, wantAttempts: 2, wantErrorFree: true},
		// The plan tries the local region first: it serves, and the remote's
		// refusal is never asked for.
		{name: "local serves, remote would refuse", local: serve, remote: refuse, wantCalls: 1, wantAttempts: 1, wantErrorFree: true},
		// A refusal and a throttled destination: the caller should come
		// back (429), at the first request when both were tried and at the
		// next ones, which skip the region cooling down, too.
		{name: "local refuses, remote throttled", local: refuse, remote: throttled, wantKind: inference.KindThrottled},
		{name: "both refuse", local: refuse, remote: refuse, wantKind: inference.KindInvalidRequest, wantParam: "thinking.budget_tokens", wantCalls: 2, wantAttempts: 2},
		{name: "malformed", local: malformed, remote: malformed, wantKind: inference.KindInvalidRequest, wantParam: "max_tokens", wantCalls: 1, wantAttempts: 1},
		{name: "invalid value", local: bogus, remote: serve, wantKind: inference.KindInvalidRequest, wantParam: "reasoning_effort", wantCalls: 1, wantAttempts: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newPathHarness(t)
			var calls atomic.Int64
			backend := func(f func() error) func(context.Context, *inference.Request) (*inference.Response, error) {
				return func(context.Context, *inference.Request) (*inference.Response, error) {
					calls.Add(1)
					if err := f(); err != nil {
						return nil, err
					}
					return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok"), Usage: inference.Usage{InputTokens: 5, OutputTokens: 1}}, nil
				}
			}
			h.local.complete, h.remote.complete = backend(tc.local), backend(tc.remote)
			for i := range 4 { // one more than the failure threshold
				calls.Store(0)
				_, err := h.g.Invoke(t.Context(), h.call("refusal", "eu.m", false))
				if tc.wantErrorFree {
					if err != nil {
						t.Fatalf("request %d: %v; want it served by the destination that can carry it", i, err)
					}
				} else {
					e := inference.AsError(err)
					if err == nil || e.Kind != tc.wantKind || e.Param != tc.wantParam || !strings.Contains(e.Message, tc.wantParam) {
						t.Fatalf("request %d: %v (param %q); want %v naming %q", i, err, e.Param, tc.wantKind, tc.wantParam)
					}
				}
				if tc.wantCalls != 0 && calls.Load() != tc.wantCalls {
					t.Fatalf("request %d: %d backend calls; want %d", i, calls.Load(), tc.wantCalls)
				}
				h.recorder.mu.Lock()
				n := len(h.recorder.recs)
				h.recorder.mu.Unlock()
				if n != i+1 {
					t.Fatalf("request %d: %d audit records in all; want exactly one per request", i, n)
				}
				if rec := h.recorder.last(t); tc.wantAttempts != 0 && len(rec.Attempts) != tc.wantAttempts {
					t.Fatalf("request %d: %d attempts recorded (%+v); want %d", i, len(rec.Attempts), rec.Attempts, tc.wantAttempts)
				}
				for _, region := range []string{"eu-west-1", "eu-central-1"} {
					if region == "eu-central-1" && tc.wantKind == inference.KindThrottled {
						continue // its 429 cools it down, as it should
					}
					if errRate, open, cooling := h.health(t, region, "m"); errRate != 0 || open || cooling {
						t.Fatalf("after request %d: %s error rate %v, circuit open %v, cooling down %v; want a healthy deployment", i, region, errRate, open, cooling)
					}
				}
			}
		})
	}
}
