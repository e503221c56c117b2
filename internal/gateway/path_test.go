package gateway

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// streamEvents is a stream's start and three deltas of 40 bytes (10
// estimated tokens each).
func streamEvents() []inference.Event {
	d := strings.Repeat("abcd", 10)
	return []inference.Event{{Kind: inference.EventStart}, {Kind: inference.EventDelta, Text: d}, {Kind: inference.EventDelta, Text: d}, {Kind: inference.EventDelta, Text: d}}
}

// TestStreamHangUpIsChargedAndNotBlamed: a caller that hangs up mid-stream
// (the backend's read then fails with the cancellation, before the front
// end's write does) is charged the tokens delivered so far, is recorded as
// client_closed, and never counts against the deployment, however often it
// happens.
func TestStreamHangUpIsChargedAndNotBlamed(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	hang := func(ctx context.Context, _ *inference.Request) (inference.Stream, error) {
		return newFakeStream(ctx, true, streamEvents()...), nil
	}
	h.local.stream, h.remote.stream = hang, hang
	for i := range 4 { // one more than the failure threshold
		ctx, cancel := context.WithCancel(t.Context())
		call := h.call("hang", "eu.m", true)
		out, err := h.g.Invoke(ctx, call)
		if err != nil {
			t.Fatalf("hang-up %d: Invoke: %v", i, err)
		}
		for range 4 {
			if _, err := out.Stream.Recv(); err != nil {
				t.Fatalf("hang-up %d: Recv: %v", i, err)
			}
		}
		cancel()
		if _, err := out.Stream.Recv(); err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("hang-up %d: Recv after cancel = %v, want the cancelled read's error", i, err)
		}
		out.Stream.Close()

		rec := h.recorder.last(t)
		wantUsage := inference.Usage{InputTokens: call.Request.EstimatedInputTokens(), OutputTokens: 30}
		if rec.ErrorCode != "client_closed" || rec.Usage != wantUsage {
			t.Errorf("hang-up %d: record errorCode %q usage %+v, want client_closed and %+v", i, rec.ErrorCode, rec.Usage, wantUsage)
		}
		st := h.quota.settlements()
		if got := st[len(st)-1]; got.release || got.actual != int64(wantUsage.Total()) {
			t.Errorf("hang-up %d: quota settled with %+v, want a commit of %d tokens", i, got, wantUsage.Total())
		}
		for _, region := range []string{"eu-west-1", "eu-central-1"} {
			if errRate, open, cooling := h.health(t, region, "m"); errRate != 0 || open || cooling {
				t.Fatalf("%s after hang-up %d: error rate %v, circuit open %v, cooling down %v; want a healthy deployment", region, i, errRate, open, cooling)
			}
		}
	}
}

// TestStreamCutWithoutUsageIsCharged: a stream that ends in error without
// the backend's usage is still charged what it delivered.
func TestStreamCutWithoutUsageIsCharged(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	h.local.stream = func(ctx context.Context, _ *inference.Request) (inference.Stream, error) {
		s := newFakeStream(ctx, false, streamEvents()...)
		s.end = &inference.Error{Kind: inference.KindUpstream, Message: "the model's answer was cut off"}
		return s, nil
	}
	call := h.call("cut", "n", true)
	out, err := h.g.Invoke(t.Context(), call)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := out.Stream.Recv(); err != nil {
			break
		}
	}
	out.Stream.Close()
	want := int64(call.Request.EstimatedInputTokens() + 30)
	if st := h.quota.settlements(); len(st) != 1 || st[0].release || st[0].actual != want {
		t.Errorf("settlements %+v, want one commit of %d tokens", st, want)
	}
	if rec := h.recorder.last(t); rec.ErrorCode != "stream_upstream_error" || rec.Usage.OutputTokens != 30 {
		t.Errorf("record errorCode %q usage %+v, want stream_upstream_error with 30 output tokens", rec.ErrorCode, rec.Usage)
	}
}

// TestCancelBeforeFirstByteIsNotBlamed: a caller that goes away while the
// deployment has not answered yet (streaming or not) costs the deployment
// nothing in health, and the request is recorded as client_closed.
func TestCancelBeforeFirstByteIsNotBlamed(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{true, false} {
		h := newPathHarness(t)
		started := make(chan struct{}, 1)
		// What a backend's cancelled connect or header read returns.
		cancelled := func(ctx context.Context) error {
			started <- struct{}{}
			<-ctx.Done()
			return &inference.Error{Kind: inference.KindUnavailable, Message: "request cancelled", Err: ctx.Err()}
		}
		h.local.stream = func(ctx context.Context, _ *inference.Request) (inference.Stream, error) { return nil, cancelled(ctx) }
		h.local.complete = func(ctx context.Context, _ *inference.Request) (*inference.Response, error) {
			return nil, cancelled(ctx)
		}
		for i := range 4 {
			ctx, cancel := context.WithCancel(t.Context())
			go func() { <-started; cancel() }()
			if _, err := h.g.Invoke(ctx, h.call("early", "n", stream)); err == nil {
				t.Fatalf("stream=%v #%d: Invoke succeeded after cancellation", stream, i)
			}
			cancel()
			if rec := h.recorder.last(t); rec.ErrorCode != "client_closed" {
				t.Errorf("stream=%v #%d: record errorCode %q, want client_closed", stream, i, rec.ErrorCode)
			}
			if errRate, open, cooling := h.health(t, "eu-west-1", "n"); errRate != 0 || open || cooling {
				t.Fatalf("stream=%v: after cancellation %d: error rate %v, circuit open %v, cooling down %v; want healthy", stream, i, errRate, open, cooling)
			}
		}
		for _, s := range h.quota.settlements() {
			if !s.release {
				t.Errorf("stream=%v: a request cancelled before any answer was committed (%+v), want released", stream, s)
			}
		}
	}
}

// TestQueuedRequestFindsQuotaFree: when a request ends, the quota's
// concurrency slot is free by the time the tracker lets the next request
// in; a request arriving in between is served, not refused as at capacity.
func TestQueuedRequestFindsQuotaFree(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	h.local.stream = func(ctx context.Context, _ *inference.Request) (inference.Stream, error) {
		return newFakeStream(ctx, false, inference.Event{Kind: inference.EventStart}, inference.Event{Kind: inference.EventDelta, Text: "hi"}), nil
	}
	a, err := h.g.Invoke(t.Context(), h.call("a", "c", true))
	if err != nil {
		t.Fatal(err)
	}
	var bErr error
	ranB := false
	runB := func() {
		ranB = true
		_, bErr = h.g.Invoke(t.Context(), h.call("b", "c", false))
	}
	h.quota.setBeforeSettle(func() {
		// The window between the tracker's release and the quota's: a
		// request that the tracker admits now must not be refused.
		if st, _ := h.g.Routing().Tracker.State(routing.Key{Region: "eu-west-1", Model: "c"}); st.InFlight == 0 && !ranB {
			runB()
		}
	})
	for {
		if _, err := a.Stream.Recv(); err != nil {
			break
		}
	}
	a.Stream.Close()
	h.quota.setBeforeSettle(nil)
	if !ranB {
		runB()
	}
	if bErr != nil {
		t.Errorf("request after a stream ended: %v, want served", bErr)
	}
}

// TestAtCapacityIsThrottled: when every destination's capacity is taken
// (here by another replica of the region, through the shared quota store)
// the caller gets 429 with Retry-After, never a 5xx.
func TestAtCapacityIsThrottled(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	h.quota.hold("eu-west-1/c")
	_, err := h.g.Invoke(t.Context(), h.call("busy", "c", false))
	e := inference.AsError(err)
	if e.Kind != inference.KindThrottled || e.RetryAfter < time.Second {
		t.Errorf("Invoke with every destination at capacity = %v (status %d, Retry-After %v), want 429 with Retry-After", err, e.Kind.Status(), e.RetryAfter)
	}
}

// TestMaxTokensBounded: max_tokens above the model's context window (or a
// sane bound when it has none) or negative is refused with a 400 naming the
// caller's field, before any quota is reserved; a huge value never wraps
// the reservation.
func TestMaxTokensBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		op        string
		model     string
		maxTokens int
		param     string
		wantParam string // "" when accepted
	}{
		{"max int64", OpChatCompletions, "eu.m", math.MaxInt64, "", "max_tokens"},
		{"above context window", OpChatCompletions, "eu.m", 8193, "", "max_tokens"},
		{"at context window", OpChatCompletions, "eu.m", 8192, "", ""},
		{"negative", OpChatCompletions, "eu.m", -1, "", "max_tokens"},
		{"min int64", OpInvokeModel, "eu.m", math.MinInt64, "", "max_tokens"},
		{"converse names inferenceConfig", OpConverse, "eu.m", math.MaxInt64, "", "inferenceConfig.maxTokens"},
		{"front end names its field", OpChatCompletions, "eu.m", 1 << 40, "max_completion_tokens", "max_completion_tokens"},
		{"no context window: bounded", OpChatCompletions, "n", MaxTokensBound + 1, "", "max_tokens"},
		{"no context window: large but sane", OpChatCompletions, "n", 100000, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newPathHarness(t)
			call := h.call("mt", tc.model, false)
			call.Operation = tc.op
			call.Request.MaxTokens, call.Request.MaxTokensParam = tc.maxTokens, tc.param
			_, err := h.g.Invoke(t.Context(), call)
			if tc.wantParam == "" {
				if err != nil {
					t.Fatalf("Invoke(max_tokens=%d) = %v, want served", tc.maxTokens, err)
				}
				return
			}
			e := inference.AsError(err)
			if e.Kind != inference.KindInvalidRequest || e.Param != tc.wantParam || !strings.Contains(e.Message, tc.wantParam) {
				t.Fatalf("Invoke(max_tokens=%d) = %v (param %q), want 400 naming %q", tc.maxTokens, err, e.Param, tc.wantParam)
			}
			if st := h.quota.settlements(); len(st) != 0 {
				t.Errorf("quota touched for a refused request: %+v", st)
			}
			// A destination node checks a forwarded job the same way.
			job := &Job{RequestID: "fw", Operation: tc.op, SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1",
				ProfileID: tc.model, Model: tc.model, Principal: h.principal, Request: call.Request}
			if tc.model == "eu.m" {
				job.Model = "m"
			} else {
				job.SourceRegion = "eu-west-1"
			}
			if _, err := h.g.ServeForwarded(t.Context(), job); inference.AsError(err).Kind != inference.KindInvalidRequest {
				t.Errorf("ServeForwarded(max_tokens=%d) = %v, want 400", tc.maxTokens, err)
			}
		})
	}
}

func TestEstimatedTokensSaturate(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	for _, mt := range []int{math.MaxInt64, math.MaxInt64 - 1, math.MinInt64, -1} {
		req := &inference.Request{MaxTokens: mt, Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "x")}}
		if got := h.g.estimatedTokens(req); got <= 0 {
			t.Errorf("estimatedTokens(max_tokens=%d) = %d, want positive", mt, got)
		}
	}
}

// TestResolveErrorClipsModel: an unknown model name of 3 MB is not echoed
// back.
func TestResolveErrorClipsModel(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	for _, model := range []string{strings.Repeat("x", 3<<20), "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/" + strings.Repeat("y", 1<<20),
		"arn:aws:bedrock:us-east-1:111122223333:inference-profile/" + strings.Repeat("z", 1<<20)} {
		_, err := h.g.Invoke(t.Context(), h.call("big", model, false))
		e := inference.AsError(err)
		if e.Kind != inference.KindNotFound && e.Kind != inference.KindInvalidRequest {
			t.Fatalf("Invoke(%d-byte model) = %v, want 404 or 400", len(model), err)
		}
		if len(e.Message) > 1024 || strings.Contains(e.Message, strings.Repeat(model[len(model)-1:], inference.EchoLimit+1)) {
			t.Errorf("Invoke(%d-byte model): message of %d bytes, want it clipped with a marker: %.200q", len(model), len(e.Message), e.Message)
		}
	}
}

// TestStallAfterHeadersFailsOver: a local upstream that sends its response
// headers and then nothing is abandoned after the stream idle time-out and
// the request is served by the next destination: no byte had reached the
// caller. The upstream is a real socket; the behaviour, not the timing, is
// asserted.
func TestStallAfterHeadersFailsOver(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	// The backend's wait for the first event runs on a clock of its own,
	// advanced once the wait is armed: never on the wall clock.
	bclk := clock.NewManual(time.Unix(1_700_000_000, 0))
	stalling := backend.NewOpenAI(backend.OpenAIConfig{BaseURL: srv.URL + "/v1", Model: "m", FirstByteTimeout: time.Hour, StreamIdleTimeout: time.Minute, Clock: bclk})
	defer stalling.Close()
	h.g.backends["m"] = stalling
	h.remote.stream = func(ctx context.Context, _ *inference.Request) (inference.Stream, error) {
		return newFakeStream(ctx, false, streamEvents()...), nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // hang guard only
	defer cancel()
	type result struct {
		out *Outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := h.g.Invoke(ctx, h.call("stall", "eu.m", true))
		done <- result{out, err}
	}()
	// The wait for the first event (the idle time-out) is armed; the
	// first-byte timer came and went before it.
	if err := bclk.WaitArmed(ctx, time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	bclk.Advance(time.Minute)
	r := <-done
	out, err := r.out, r.err
	if err != nil {
		t.Fatalf("Invoke: %v, want served by eu-central-1", err)
	}
	defer out.Stream.Close()
	if out.Route.InferenceRegion != "eu-central-1" || !strings.HasPrefix(out.Route.Reason, "failover:timeout:eu-west-1") {
		t.Errorf("served in %s, route %q; want eu-central-1 after a time-out in eu-west-1", out.Route.InferenceRegion, out.Route.Reason)
	}
}

// TestDecideClipsResource: a denial of a control-plane action on a
// caller-named resource does not echo a huge name.
func TestDecideClipsResource(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(`account: "111122223333"
geographies: { eu: { name: EU } }
regions: [ { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" } ]
models: [ { id: m } ]
deployments: [ { model: m, region: eu-west-1, backend: { type: mock } } ]
principals: [ { id: p, policies: [none] } ]
policies:
  none: { Version: "2012-10-17", Statement: [ { Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*" } ] }
`), "decide.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewPolicyAuthorizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := auth.New(cfg)
	principal, _ := p.Principal("p")
	for _, in := range []AuthzInput{{Principal: principal, Source: "eu-west-1", Now: time.Now()}, {Principal: auth.Principal{ID: "stranger"}, Source: "eu-west-1", Now: time.Now()}} {
		err := a.Decide(in, "bedrock:GetInferenceProfile", "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/"+strings.Repeat("q", 1<<20))
		if e := inference.AsError(err); e.Kind != inference.KindPermissionDenied || len(e.Message) > 1024 {
			t.Errorf("Decide for %s = %d-byte message (kind %v), want a clipped denial", in.Principal.ID, len(e.Message), e.Kind)
		}
	}
}

// TestSilentLinkEndsForwardedStream: a forwarded stream whose destination
// node or link goes silent mid-stream is ended with a time-out (reported
// in-stream by the front end) once the destination's own idle time-out
// plus a margin has passed, on the gateway's clock; the caller is not held.
func TestSilentLinkEndsForwardedStream(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	h.local.stream = func(context.Context, *inference.Request) (inference.Stream, error) {
		return nil, &inference.Error{Kind: inference.KindThrottled, RetryAfter: time.Minute, Message: "busy"}
	}
	blocked := make(chan struct{}, 1)
	h.remote.stream = func(ctx context.Context, _ *inference.Request) (inference.Stream, error) {
		s := newFakeStream(ctx, true, streamEvents()...)
		s.blocked = blocked
		return s, nil
	}
	out, err := h.g.Invoke(t.Context(), h.call("silent", "eu.m", true))
	if err != nil {
		t.Fatal(err)
	}
	if out.Route.InferenceRegion != "eu-central-1" {
		t.Fatalf("served in %s, want eu-central-1", out.Route.InferenceRegion)
	}
	for range 4 {
		if _, err := out.Stream.Recv(); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		<-blocked
		h.clock.Advance(h.g.linkIdleTimeout("m"))
	}()
	errc := make(chan error, 1)
	go func() { _, err := out.Stream.Recv(); errc <- err }()
	select {
	case err = <-errc:
	case <-time.After(time.Minute): // hang guard only
		out.Stream.Close()
		t.Fatal("a silent forwarded stream held the caller")
	}
	out.Stream.Close()
	if e := inference.AsError(err); e.Kind != inference.KindTimeout {
		t.Errorf("Recv on a silent link = %v, want a time-out", err)
	}
	if rec := h.recorder.last(t); rec.ErrorCode != "stream_timeout" || rec.Usage.OutputTokens != 30 {
		t.Errorf("record errorCode %q usage %+v, want stream_timeout with the 30 tokens delivered", rec.ErrorCode, rec.Usage)
	}
}

func TestLinkIdleTimeout(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	if got, want := h.g.linkIdleTimeout("m"), DefaultStreamIdleTimeout+linkIdleMargin; got != want {
		t.Errorf("linkIdleTimeout(m) = %v, want %v", got, want)
	}
}

// TestCooledDownSincePlanIsThrottled: a destination that another request's
// 429 cooled down after this request's plan was made is skipped; with
// nowhere else to go the caller gets 429 with the cooldown's Retry-After,
// not a 503.
func TestCooledDownSincePlanIsThrottled(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	k := routing.Key{Region: "eu-central-1", Model: "r"}
	h.beforeRemoteAttempt = func(string) { h.g.Routing().Tracker.CoolDown(k, h.clock.Now().Add(5*time.Second), true) }
	_, err := h.g.Invoke(t.Context(), h.call("raced", "eu.r", false))
	e := inference.AsError(err)
	if e.Kind != inference.KindThrottled || e.RetryAfter != 5*time.Second {
		t.Errorf("Invoke = %v (status %d, Retry-After %v), want 429 with Retry-After 5s", err, e.Kind.Status(), e.RetryAfter)
	}
}

// TestRejectClipsRecordedModel: a request refused by its front end keeps
// the caller's model name in its record (and audit event) only clipped.
func TestRejectClipsRecordedModel(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	call := h.call("rej", strings.Repeat("m", 3<<20), false)
	h.g.Reject(t.Context(), call, &inference.Error{Kind: inference.KindInvalidRequest, Message: "bad"})
	if rec := h.recorder.last(t); len(rec.Model) > 512 {
		t.Errorf("recorded model of %d bytes, want it clipped", len(rec.Model))
	}
}

// TestStreamCountedOnce: the recording stream that records a stream's
// usage shares the count of the tracked stream under it (which settles the
// quota with it), local and forwarded alike: each event's text is measured
// once, and the record and the settlement cannot disagree.
func TestStreamCountedOnce(t *testing.T) {
	t.Parallel()
	for _, model := range []string{"n", "eu.m"} { // n: local only; eu.m: either region
		h := newPathHarness(t)
		cut := func(ctx context.Context, _ *inference.Request) (inference.Stream, error) {
			s := newFakeStream(ctx, false, streamEvents()...)
			s.end = &inference.Error{Kind: inference.KindUpstream, Message: "cut off"}
			return s, nil
		}
		h.local.stream, h.remote.stream = cut, cut
		out, err := h.g.Invoke(t.Context(), h.call("once", model, true))
		if err != nil {
			t.Fatalf("%s: Invoke: %v", model, err)
		}
		rs, ok := out.Stream.(*recordingStream)
		if !ok {
			t.Fatalf("%s: Invoke's stream is a %T, want *recordingStream", model, out.Stream)
		}
		ts, ok := rs.Stream.(*trackedStream)
		if !ok || rs.count != &ts.count {
			t.Fatalf("%s: the recording stream (over a %T) keeps a count of its own", model, rs.Stream)
		}
		for {
			if _, err := out.Stream.Recv(); err != nil {
				break
			}
		}
		out.Stream.Close()
		rec := h.recorder.last(t)
		st := h.quota.settlements()
		if got := st[len(st)-1]; got.release || got.actual != int64(rec.Usage.Total()) || rec.Usage.OutputTokens != 30 {
			t.Errorf("%s: settled %+v, recorded usage %+v; want both 30 output tokens", model, got, rec.Usage)
		}
	}
}

// TestUnfitDestinationIsNotBlamed: a destination the link cannot send a
// request to (a peer running an older Meridian, in a rolling upgrade) is
// failed over like an unavailable one, but never counts against its
// deployment however often it happens, so requests it can carry still go
// there; the caller's 503 says why.
func TestUnfitDestinationIsNotBlamed(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	const why = "region eu-central-1 runs an older Meridian that cannot carry the request metadata"
	unfit := func(_ context.Context, req *inference.Request) (*inference.Response, error) {
		if len(req.Metadata) > 0 {
			return nil, &inference.Error{Kind: inference.KindUnavailable, Unfit: true, Message: why}
		}
		return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok"), Usage: inference.Usage{InputTokens: 5, OutputTokens: 1}}, nil
	}
	h.remote.complete = unfit
	for i := range 4 { // one more than the failure threshold
		call := h.call("unfit", "eu.r", false) // r is served in eu-central-1 only
		call.Request.Metadata = map[string]string{"team": "claims"}
		_, err := h.g.Invoke(t.Context(), call)
		e := inference.AsError(err)
		if e.Kind != inference.KindUnavailable || !strings.Contains(e.Message, why) {
			t.Fatalf("request %d: %v; want a 503 saying %q", i, err, why)
		}
		if errRate, open, cooling := h.health(t, "eu-central-1", "r"); errRate != 0 || open || cooling {
			t.Fatalf("after request %d: error rate %v, circuit open %v, cooling down %v; want a healthy deployment", i, errRate, open, cooling)
		}
	}
	if _, err := h.g.Invoke(t.Context(), h.call("plain", "eu.r", false)); err != nil {
		t.Fatalf("a request the destination can carry: %v", err)
	}
}

// TestHangUpAttemptNotCountedAsFailure: an attempt that ends because its
// caller hung up counts in meridian_attempts_total as canceled, not as the
// error its backend's read failed with (a time-out, an unreachable peer),
// which the dashboard's failed attempts by destination would charge to the
// destination; the health tracker does not blame it either.
func TestHangUpAttemptNotCountedAsFailure(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	h.local.complete = func(context.Context, *inference.Request) (*inference.Response, error) {
		cancel() // the caller goes away while the backend is asked
		return nil, &inference.Error{Kind: inference.KindTimeout, Message: "read: context canceled"}
	}
	h.remote.complete = h.local.complete
	if _, err := h.g.Invoke(ctx, h.call("gone", "eu.m", false)); err == nil {
		t.Fatal("Invoke after the caller hung up = nil error")
	}
	var canceled, timeout float64
	for _, region := range []string{"eu-west-1", "eu-central-1"} {
		for outcome, sum := range map[string]*float64{attemptCanceled: &canceled, inference.KindTimeout.String(): &timeout} {
			var m dto.Metric
			if err := h.g.metrics.Attempts.WithLabelValues(region, outcome).Write(&m); err != nil {
				t.Fatal(err)
			}
			*sum += m.GetCounter().GetValue()
		}
	}
	if canceled != 1 || timeout != 0 {
		t.Errorf("attempts: canceled %v, timeout %v; want 1 and 0", canceled, timeout)
	}
}

// TestAuthorizeCountsNotCallable: a call that reaches no backend
// (count_tokens) refused because its profile is not callable from this
// region counts in meridian_profile_not_callable_total as Invoke's does.
func TestAuthorizeCountsNotCallable(t *testing.T) {
	t.Parallel()
	h := newPathHarness(t)
	call := h.call("count", "arn:aws:bedrock:eu-central-1:"+h.cfg.Account+":inference-profile/eu.m", false)
	err := h.g.Authorize(t.Context(), call)
	if err == nil || err.Kind != inference.KindInvalidRequest {
		t.Fatalf("Authorize of an ARN of another region = %v, want the not-callable 400", err)
	}
	var m dto.Metric
	if err := h.g.metrics.NotCallable.WithLabelValues("other").Write(&m); err != nil {
		t.Fatal(err)
	}
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("meridian_profile_not_callable_total{profile=\"other\"} = %v, want 1", got)
	}
}
