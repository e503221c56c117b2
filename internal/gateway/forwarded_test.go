package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/routing"
)

// refusingRecorder records like fakeRecorder but refuses new work.
type refusingRecorder struct {
	*fakeRecorder
	err error
}

func (r refusingRecorder) Admit() error { return r.err }

// onlyElsewhere allows every destination but this one.
type onlyElsewhere struct{ here string }

func (a onlyElsewhere) AuthorizeInvoke(in AuthzInput) ([]string, error) {
	var out []string
	for _, d := range in.Resolution.Destinations {
		if d != a.here {
			out = append(out, d)
		}
	}
	return out, nil
}

// TestServeForwardedRefusals: a destination node trusts nothing the source
// said; every refusal leaves exactly one destination-side record, and
// denials are recorded as not allowed.
func TestServeForwardedRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		setup       func(e *engine, job *Job)
		wantKind    inference.ErrorKind
		wantAllowed bool
	}{
		{"recorder cannot record", func(e *engine, _ *Job) {
			e.g.recorder = refusingRecorder{e.recorder, &inference.Error{Kind: inference.KindUnavailable, RetryAfter: time.Second, Message: "audit down"}}
		}, inference.KindUnavailable, true},
		{"another destination", func(_ *engine, j *Job) { j.DestinationRegion = "eu-central-1" }, inference.KindPermissionDenied, false},
		{"source outside the geography", func(_ *engine, j *Job) { j.SourceRegion = "us-east-1" }, inference.KindPermissionDenied, false},
		{"profile unknown here", func(_ *engine, j *Job) { j.ProfileID = "eu.nothing" }, inference.KindPermissionDenied, false},
		{"unknown principal", func(_ *engine, j *Job) { j.Principal.ID = "mallory" }, inference.KindPermissionDenied, false},
		{"not authorized here", func(e *engine, _ *Job) { e.g.authz = onlyElsewhere{here: "eu-west-1"} }, inference.KindPermissionDenied, false},
		{"max_tokens out of bounds", func(_ *engine, j *Job) { j.Request.MaxTokens = -1 }, inference.KindInvalidRequest, true},
		{"deployment cooling down", func(e *engine, _ *Job) {
			k := routing.Key{Region: "eu-west-1", Model: "m"}
			a, err := e.g.Routing().Tracker.Start(k, 1)
			if err != nil {
				panic(err)
			}
			e.g.Routing().Tracker.Observe(a, routing.Outcome{Kind: routing.Throttled, RetryAfter: 5 * time.Second})
		}, inference.KindThrottled, true},
		{"deployment at capacity", func(e *engine, _ *Job) {
			e.quota.capacity["eu-west-1/m"] = 1
			e.quota.hold("eu-west-1/m")
		}, inference.KindThrottled, true},
		{"backend fails", func(e *engine, _ *Job) {
			e.b.serve = func(_ context.Context, region string, _ int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
				return nil, nil, unavailable(region)
			}
		}, inference.KindUnavailable, true},
	}
	for _, tc := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				e := newEngine(t, "")
				job := &Job{RequestID: "fwd", Operation: OpChatCompletions, SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1",
					ProfileID: "eu.m", Model: "not-m", Principal: e.principal, Request: &inference.Request{Model: "eu.m", Stream: stream}}
				tc.setup(e, job)
				out, err := e.g.ServeForwarded(t.Context(), job)
				if err == nil {
					t.Fatalf("stream=%v: ServeForwarded served %+v, want a refusal", stream, out)
				}
				if got := inference.AsError(err).Kind; got != tc.wantKind {
					t.Errorf("stream=%v: ServeForwarded = %v (kind %v), want kind %v", stream, err, got, tc.wantKind)
				}
				if n := e.records(); n != 1 {
					t.Fatalf("stream=%v: %d records, want exactly 1", stream, n)
				}
				rec := e.recorder.last(t)
				if rec.Side != "destination" || rec.Allowed != tc.wantAllowed || rec.Status != tc.wantKind.Status() {
					t.Errorf("stream=%v: record side %q allowed %v status %d, want destination, %v, %d", stream, rec.Side, rec.Allowed, rec.Status, tc.wantAllowed, tc.wantKind.Status())
				}
			})
		}
	}
}

// TestServeForwardedServes: a forwarded job is served on this node's own
// resolution of the model (not the one on the wire), counted by the local
// tracker, and recorded once, streaming or not.
func TestServeForwardedServes(t *testing.T) {
	t.Parallel()
	for _, stream := range []bool{false, true} {
		e := newEngine(t, "")
		var ran string
		e.b.serve = func(ctx context.Context, region string, _ int, req *inference.Request) (*inference.Response, inference.Stream, error) {
			ran = region
			return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok"), Usage: inference.Usage{InputTokens: 3, OutputTokens: 1}},
				newFakeStream(ctx, false, streamEvents()...), nil
		}
		job := &Job{RequestID: "fwd", Operation: OpChatCompletions, SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1",
			ProfileID: "eu.m", Model: "not-m", Principal: e.principal, Request: &inference.Request{Model: "eu.m", Stream: stream}}
		out, err := e.g.ServeForwarded(t.Context(), job)
		if err != nil {
			t.Fatalf("stream=%v: ServeForwarded = %v", stream, err)
		}
		if stream {
			if err := drain(t, out); err != nil {
				t.Fatal(err)
			}
		}
		if ran != "eu-west-1" || job.Model != "m" {
			t.Errorf("stream=%v: ran in %q with model %q, want eu-west-1 with the resolved model m", stream, ran, job.Model)
		}
		rec := e.recorder.last(t)
		if e.records() != 1 || rec.Side != "destination" || rec.Status != 200 || rec.Route != "forwarded" || rec.Model != "m" {
			t.Errorf("stream=%v: %d records, last %+v; want one destination record, 200, forwarded, model m", stream, e.records(), rec)
		}
		if st, _ := e.g.Routing().Tracker.State(routing.Key{Region: "eu-west-1", Model: "m"}); st.InFlight != 0 {
			t.Errorf("stream=%v: %d in flight after the job ended", stream, st.InFlight)
		}
	}
}
