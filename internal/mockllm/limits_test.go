package mockllm_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

const hello = `{"model":"m","messages":[{"role":"user","content":"hi"}]}` // 5 prompt tokens

func TestConcurrencyLimit(t *testing.T) {
	t.Parallel()
	// The clock never moves: the slow stream holds its slot until cancelled.
	srv := mockllm.New(mockllm.Config{MaxConcurrency: 1, TokensPerSecond: 1, CompletionTokens: 1000, Clock: newFakeClock()})
	done := make(chan struct{}, 4)
	mockllm.SetTestHookDone(srv, func() { done <- struct{}{} })
	_, url := serveHandler(t, srv)

	// Hold the only slot with a slow stream.
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"slow"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (eventReader{bufio.NewReader(resp.Body)}).next(); err != nil {
		t.Fatal(err)
	}

	resp2, body := post(t, t.Context(), url, hello)
	<-done
	if resp2.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("second request: status %d, want 429; body %s", resp2.StatusCode, body)
	}
	checkThrottle(t, resp2, body, mockllm.ReasonConcurrency, "requests", "1")

	cancel()
	resp.Body.Close()
	<-done
	// One token: with TTFT 0 it is due at once.
	if resp3, body := post(t, t.Context(), url, `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"hi"}]}`); resp3.StatusCode != http.StatusOK {
		t.Errorf("after the slot freed: status %d, want 200; body %s", resp3.StatusCode, body)
	}
	if st := srv.Stats(); st.Throttled != 1 || st.Served != 1 || st.Canceled != 1 {
		t.Errorf("Stats() = %+v, want 1 throttled, 1 served, 1 canceled", st)
	}
}

func checkThrottle(t *testing.T, resp *http.Response, body []byte, reason, typ, retryAfter string) {
	t.Helper()
	e := parseError(t, body)
	if e.Error.Type != typ || deref(e.Error.Code) != "rate_limit_exceeded" {
		t.Errorf("error = %s, want type %q, code rate_limit_exceeded", body, typ)
	}
	if got := resp.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, retryAfter)
	}
	if got := resp.Header.Get(mockllm.HeaderThrottleReason); got != reason {
		t.Errorf("%s = %q, want %q", mockllm.HeaderThrottleReason, got, reason)
	}
}

// step is one request in a rate-limit scenario, after advancing the clock.
type step struct {
	advance    time.Duration
	body       string
	wantStatus int
	// wantHeaders are checked exactly; "" means absent.
	wantHeaders map[string]string
}

func runSteps(t *testing.T, cfg mockllm.Config, steps []step) {
	t.Helper()
	clock := newFakeClock()
	cfg.Clock = clock
	_, url := start(t, cfg)
	for i, s := range steps {
		clock.Advance(s.advance)
		resp, body := post(t, t.Context(), url, s.body)
		if resp.StatusCode != s.wantStatus {
			t.Fatalf("step %d: status %d, want %d; body %s", i, resp.StatusCode, s.wantStatus, body)
		}
		for k, want := range s.wantHeaders {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("step %d: %s = %q, want %q", i, k, got, want)
			}
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			e := parseError(t, body)
			if !strings.HasPrefix(e.Error.Message, "Rate limit reached") && !strings.HasPrefix(e.Error.Message, "Request too large") {
				t.Errorf("step %d: message %q, want OpenAI's rate limit wording", i, e.Error.Message)
			}
			if e.Error.Type != s.wantHeaders[mockllm.HeaderThrottleReason] {
				t.Errorf("step %d: error type %q, want %q", i, e.Error.Type, s.wantHeaders[mockllm.HeaderThrottleReason])
			}
		}
	}
}

func TestRPM(t *testing.T) {
	t.Parallel()
	runSteps(t, mockllm.Config{RPM: 2}, []step{
		{0, hello, 200, map[string]string{
			mockllm.HeaderLimitRequests: "2", mockllm.HeaderRemainingRequests: "1", mockllm.HeaderResetRequests: "1m0s",
			mockllm.HeaderLimitTokens: "", "Retry-After": ""}},
		{10 * time.Second, hello, 200, map[string]string{mockllm.HeaderRemainingRequests: "0", mockllm.HeaderResetRequests: "1m0s"}},
		{10*time.Second + 500*time.Millisecond, hello, 429, map[string]string{
			mockllm.HeaderRemainingRequests: "0", mockllm.HeaderResetRequests: "49.5s",
			"Retry-After": "40", "Retry-After-Ms": "39500", mockllm.HeaderThrottleReason: "requests"}},
		// The first request leaves the window 60s after it was admitted.
		{39*time.Second + 500*time.Millisecond, hello, 200, map[string]string{mockllm.HeaderRemainingRequests: "0", mockllm.HeaderResetRequests: "1m0s"}},
		{0, hello, 429, map[string]string{"Retry-After": "10", mockllm.HeaderThrottleReason: "requests"}},
	})
}

func TestTPM(t *testing.T) {
	t.Parallel()
	big := fmt.Sprintf(`{"model":"m","messages":[{"role":"user","content":%q}]}`, strings.Repeat("a", 300))   // 79 prompt tokens
	huge := fmt.Sprintf(`{"model":"m","messages":[{"role":"user","content":%q}]}`, strings.Repeat("a", 1000)) // 254 prompt tokens
	runSteps(t, mockllm.Config{TPM: 100, CompletionTokens: 10}, []step{
		{0, hello, 200, map[string]string{
			mockllm.HeaderLimitTokens: "100", mockllm.HeaderRemainingTokens: "85", mockllm.HeaderResetTokens: "1m0s",
			mockllm.HeaderLimitRequests: ""}},
		{10 * time.Second, big, 429, map[string]string{
			mockllm.HeaderRemainingTokens: "85", mockllm.HeaderResetTokens: "50s",
			"Retry-After": "50", mockllm.HeaderThrottleReason: "tokens"}},
		// max_tokens shrinks what a request is charged: 79 + 6 = 85 fits.
		{0, strings.Replace(big, `"model"`, `"max_tokens":6,"model"`, 1), 200, map[string]string{mockllm.HeaderRemainingTokens: "0"}},
		{0, huge, 429, map[string]string{"Retry-After": "60", mockllm.HeaderThrottleReason: "tokens"}},
		{50 * time.Second, hello, 200, map[string]string{mockllm.HeaderRemainingTokens: "0"}},
	})
}

func TestFailRate(t *testing.T) {
	t.Parallel()
	pattern := func(cfg mockllm.Config) (string, mockllm.Stats) {
		srv, url := start(t, cfg)
		var b strings.Builder
		for range 40 {
			resp, body := post(t, t.Context(), url, hello)
			switch resp.StatusCode {
			case http.StatusOK:
				b.WriteByte('.')
			case cfg.FailStatus:
				b.WriteByte('x')
				parseError(t, body)
			default:
				t.Fatalf("status %d, want 200 or %d; body %s", resp.StatusCode, cfg.FailStatus, body)
			}
		}
		return b.String(), srv.Stats()
	}
	a, st := pattern(mockllm.Config{FailRate: 0.3, FailStatus: 503, Seed: 42})
	b, _ := pattern(mockllm.Config{FailRate: 0.3, FailStatus: 503, Seed: 42})
	c, _ := pattern(mockllm.Config{FailRate: 0.3, FailStatus: 503, Seed: 43})
	if a != b {
		t.Errorf("same seed, different failures:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("seeds 42 and 43 failed identically: %s", a)
	}
	fails := strings.Count(a, "x")
	if fails < 4 || fails > 24 {
		t.Errorf("fail rate 0.3 failed %d of 40 (%s), want about 12", fails, a)
	}
	if st.Failed != int64(fails) || st.Served != int64(40-fails) {
		t.Errorf("Stats() = %+v, want %d failed, %d served", st, fails, 40-fails)
	}
	if all, _ := pattern(mockllm.Config{FailRate: 1, FailStatus: 500}); all != strings.Repeat("x", 40) {
		t.Errorf("fail rate 1 gave %s, want every request to fail", all)
	}
	if none, _ := pattern(mockllm.Config{FailStatus: 500}); none != strings.Repeat(".", 40) {
		t.Errorf("fail rate 0 gave %s, want no failure", none)
	}
}

func TestControl(t *testing.T) {
	t.Parallel()
	srv, url := start(t, mockllm.Config{})
	control := func(body string) (int, string) {
		resp, err := http.Post(url+"/mockllm/v1/control", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b := new(strings.Builder)
		bufio.NewReader(resp.Body).WriteTo(b)
		return resp.StatusCode, b.String()
	}
	status := func(path string) int {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	tests := []struct {
		name       string
		control    string
		wantCode   int
		wantChat   int
		wantHealth int
	}{
		{"down", `{"down":true}`, 200, 503, 503},
		{"up and throttled", `{"down":false,"throttle":"2s"}`, 200, 429, 200},
		{"bad fail rate changes nothing", `{"throttle":"0s","fail_rate":2}`, 400, 429, 200},
		{"duration as a number", `{"throttle":5}`, 400, 429, 200},
		{"unknown field", `{"downn":true}`, 400, 429, 200},
		{"lift throttle, always fail", `{"throttle":"0s","fail_rate":1,"fail_status":502}`, 200, 502, 200},
		{"rpm of one", `{"fail_rate":0,"rpm":1,"reset_window":true}`, 200, 200, 200},
	}
	for _, tc := range tests {
		code, body := control(tc.control)
		if code != tc.wantCode {
			t.Fatalf("%s: POST %s = %d %s, want %d", tc.name, tc.control, code, body, tc.wantCode)
		}
		resp, chat := post(t, t.Context(), url, hello)
		if resp.StatusCode != tc.wantChat {
			t.Errorf("%s: chat status %d, want %d; body %s", tc.name, resp.StatusCode, tc.wantChat, chat)
		}
		if got := status("/healthz"); got != tc.wantHealth {
			t.Errorf("%s: /healthz = %d, want %d", tc.name, got, tc.wantHealth)
		}
	}
	if resp, _ := post(t, t.Context(), url, hello); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("second request with rpm 1: status %d, want 429", resp.StatusCode)
	}
	want := mockllm.State{FailStatus: 502, RPM: 1}
	if got := srv.State(); got != want {
		t.Errorf("State() = %+v, want %+v", got, want)
	}

	srv.SetLimits(0, 0, 0)
	srv.SetPacing(-time.Second, -3)
	srv.SetFailRate(7)
	want = mockllm.State{FailRate: 1, FailStatus: 502}
	if got := srv.State(); got != want {
		t.Errorf("State() after clamping setters = %+v, want %+v", got, want)
	}
}

func TestAPIKey(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{APIKey: "sk-right"})
	tests := []struct {
		name   string
		header string
		value  string
		want   int
	}{
		{"none", "", "", 401},
		{"wrong", "Authorization", "Bearer sk-wrong", 401},
		{"bearer", "Authorization", "Bearer sk-right", 200},
		{"azure api-key", "Api-Key", "sk-right", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(hello))
			if tc.header != "" {
				req.Header.Set(tc.header, tc.value)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %q: status %d, want %d", tc.header, tc.value, resp.StatusCode, tc.want)
			}
		})
	}
}

func TestAbortAfterTokens(t *testing.T) {
	t.Parallel()
	srv, url := start(t, mockllm.Config{CompletionTokens: 10, AbortAfterTokens: 3})
	client := newClient(url)

	stream := client.Chat.Completions.NewStreaming(t.Context(), chatParams("m", "die young"))
	var deltas int
	var finished bool
	for stream.Next() {
		for _, c := range stream.Current().Choices {
			if c.Delta.Content != "" {
				deltas++
			}
			finished = finished || c.FinishReason != ""
		}
	}
	if stream.Err() == nil || deltas != 3 || finished {
		t.Errorf("stream: %d deltas, finish seen %v, err %v; want 3 deltas, no finish, an error", deltas, finished, stream.Err())
	}

	if _, err := client.Chat.Completions.New(t.Context(), chatParams("m", "die young")); err == nil {
		t.Errorf("non-streaming request: no error, want the connection aborted")
	}

	srv.SetAbortAfterTokens(0)
	if _, err := client.Chat.Completions.New(t.Context(), chatParams("m", "live long")); err != nil {
		t.Errorf("after SetAbortAfterTokens(0): %v, want success", err)
	}
	if st := srv.Stats(); st.Failed != 2 || st.Served != 1 || st.CompletionTokens != 3+3+10 {
		t.Errorf("Stats() = %+v, want 2 failed, 1 served, 16 completion tokens", st)
	}
}
