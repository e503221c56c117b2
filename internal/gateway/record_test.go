package gateway

import (
	"bytes"
	"context"
	"github.com/meridian-gateway/meridian/internal/telemetry"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// recordSink keeps every record it is given.
type recordSink struct {
	mu   sync.Mutex
	recs []*Record
}

func (s *recordSink) Record(_ context.Context, rec *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *rec
	s.recs = append(s.recs, &c)
	return nil
}

func (s *recordSink) last(t *testing.T) *Record {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.recs) == 0 {
		t.Fatal("no record written")
	}
	return s.recs[len(s.recs)-1]
}

const refusalTopology = `account: "111122223333"
geographies: { eu: { name: EU }, us: { name: US } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: us-east-1, geography: us, location: { lat: 38, lon: -77 }, listen: "127.0.0.1:3", link: "127.0.0.1:4" }
models: [ { id: m } ]
deployments:
  - { model: m, region: eu-west-1, backend: { type: mock } }
  - { model: m, region: us-east-1, backend: { type: mock } }
principals: [ { id: team, policies: [everything] } ]
policies:
  everything:
    Version: "2012-10-17"
    Statement: [ { Effect: Allow, Action: "bedrock:*", Resource: "*" } ]
guardrails:
  - name: eu-only
    policy:
      Version: "2012-10-17"
      Statement:
        - { Sid: FullAccess, Effect: Allow, Action: "*", Resource: "*" }
        - Sid: DenyOutsideEU
          Effect: Deny
          Action: "*"
          Resource: "*"
          Condition: { StringNotLike: { "aws:RequestedRegion": "eu-*" } }
`

// newRefusalGateway returns region's gateway of refusalTopology with a
// recorder and a logger writing to the returned buffer.
func newRefusalGateway(t *testing.T, region string) (*Gateway, *recordSink, *bytes.Buffer, auth.Principal) {
	t.Helper()
	cfg, err := topology.Parse([]byte(refusalTopology), "refusal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	authz, err := NewPolicyAuthorizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sink := &recordSink{}
	var logs bytes.Buffer
	g, err := New(Options{Region: region, Config: cfg, Authorizer: authz, Recorder: sink,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := auth.New(cfg)
	p, ok := a.Principal("team")
	if !ok {
		t.Fatal("principal team missing")
	}
	p.Method, p.KeyID = auth.MethodAPIKey, "key-0"
	return g, sink, &logs, p
}

// TestRefusalsAreAuditedWithWhatTheCallerSent: docs/audit.md promised the
// model id "as the caller gave it", and refusals by residency were written
// with an empty model id and allowed: true.
func TestRefusalsAreAuditedWithWhatTheCallerSent(t *testing.T) {
	t.Parallel()
	long := "eu." + strings.Repeat("x", 5000)
	tests := []struct {
		name        string
		model       string
		wantStatus  int
		wantAllowed bool
		wantReason  string // substring of the decision's reason
		wantModel   string // resolved model id
	}{
		{"cross-geography profile", "us.m", 400, false, "residency", ""},
		{"ARN of another region", "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.m", 400, false, "residency", ""},
		{"ARN of a foreign account", "arn:aws:bedrock:eu-west-1:999999999999:inference-profile/eu.m", 404, false, "account 999999999999", ""},
		{"unknown model", "nope", 404, true, "", ""},
		{"unbounded model id", long, 404, true, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, sink, _, p := newRefusalGateway(t, "eu-west-1")
			_, err := g.Invoke(t.Context(), &Call{RequestID: "r", Operation: OpChatCompletions, Principal: p,
				Request: &inference.Request{Model: tc.model}, Received: time.Unix(0, 0)})
			if err == nil {
				t.Fatalf("Invoke(%q) served, want a refusal", tc.model)
			}
			rec := sink.last(t)
			if rec.Status != tc.wantStatus || rec.Allowed != tc.wantAllowed || !strings.Contains(rec.DenyReason, tc.wantReason) {
				t.Errorf("Invoke(%q): status %d allowed %v reason %q, want %d %v containing %q", tc.model, rec.Status, rec.Allowed, rec.DenyReason, tc.wantStatus, tc.wantAllowed, tc.wantReason)
			}
			want := tc.model
			if len(want) > maxRequestedModel {
				want = want[:maxRequestedModel]
			}
			// The audit event copies these (audit.EventOf: requestParameters
			// and modelId).
			if rec.RequestedModel != want {
				t.Errorf("Invoke(%q): requested model %q, want %q", tc.model, rec.RequestedModel, want)
			}
			if rec.Model != tc.wantModel {
				t.Errorf("Invoke(%q): model %q, want the resolved model %q", tc.model, rec.Model, tc.wantModel)
			}
		})
	}
}

// TestResolvedModelIDIsRecorded: modelId is the resolved model, and the
// caller's own words go to requestParameters.
func TestResolvedModelIDIsRecorded(t *testing.T) {
	t.Parallel()
	g, sink, _, p := newRefusalGateway(t, "eu-west-1")
	// The guardrail allows eu-west-1; no backend is configured, so
	// execution fails after resolution and authorization.
	_, _ = g.Invoke(t.Context(), &Call{RequestID: "r", Operation: OpChatCompletions, Principal: p,
		Request: &inference.Request{Model: "eu.m"}, Received: time.Unix(0, 0)})
	e := sink.last(t)
	if e.Model != "m" || e.RequestedModel != "eu.m" || e.ProfileARN != "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.m" {
		t.Errorf("record model %q requested %q arn %q, want m, eu.m and the eu-west-1 profile ARN", e.Model, e.RequestedModel, e.ProfileARN)
	}
}

// TestGuardrailDenialNamesTheDecidingStatement: docs/policies.md says the
// deciding statement goes to the log and the audit event, never to the
// client.
func TestGuardrailDenialNamesTheDecidingStatement(t *testing.T) {
	t.Parallel()
	g, sink, logs, p := newRefusalGateway(t, "us-east-1")
	_, err := g.Invoke(t.Context(), &Call{RequestID: "req-deny", Operation: OpChatCompletions, Principal: p,
		Request: &inference.Request{Model: "us.m"}, Received: time.Unix(0, 0)})
	e := inference.AsError(err)
	if e == nil || e.Kind != inference.KindPermissionDenied {
		t.Fatalf("Invoke(us.m) in us-east-1 = %v, want permission denied", err)
	}
	for _, secret := range []string{"eu-only", "DenyOutsideEU", "guardrail"} {
		if strings.Contains(e.Message, secret) {
			t.Errorf("client message %q names %q", e.Message, secret)
		}
	}
	rec := sink.last(t)
	want := policy.StatementRef{Policy: "eu-only", Sid: "DenyOutsideEU", Index: 1, Guardrail: true}
	if rec.Deciding == nil || *rec.Deciding != want {
		t.Errorf("record's deciding statement = %+v, want %+v", rec.Deciding, want)
	}
	if rec.Allowed || !strings.Contains(rec.DenyReason, "guardrail eu-only/DenyOutsideEU") {
		t.Errorf("record allowed %v reason %q, want a denial naming guardrail eu-only/DenyOutsideEU", rec.Allowed, rec.DenyReason)
	}
	l := logs.String()
	for _, want := range []string{`"level":"INFO"`, `"msg":"request denied"`, `"request_id":"req-deny"`, `"policy":"eu-only"`, `"sid":"DenyOutsideEU"`, `"statement_index":1`, `"guardrail":true`} {
		if !strings.Contains(l, want) {
			t.Errorf("log %s lacks %s", l, want)
		}
	}
}

// TestProfileLabelIsBounded: application profiles created through the API
// must not become metric label values.
func TestProfileLabelIsBounded(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Parse([]byte(refusalTopology), "refusal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := profile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cat, _, err = cat.WithApplication(profile.Profile{ID: "app-123", CopyFrom: "eu.m", HomeRegion: "eu-west-1", CreatedAt: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	cat, _, err = cat.WithApplication(profile.Profile{ID: "app-model", CopyFrom: "m", HomeRegion: "eu-west-1", CreatedAt: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{"eu.m": "eu.m", "m": "m", "app-123": "application:eu.m", "app-model": "application:m",
		"deleted-app": "other", "": ""} {
		if got := telemetry.ProfileLabel(cat, id); got != want {
			t.Errorf("ProfileLabel(%q) = %q, want %q", id, got, want)
		}
	}
}

// TestConflictIsRecordedAs409: the Bedrock front end answers a
// ConflictException with 409, as AWS does; the record must say the same.
func TestConflictIsRecordedAs409(t *testing.T) {
	t.Parallel()
	g, sink, _, p := newRefusalGateway(t, "eu-west-1")
	g.Reject(t.Context(), &Call{RequestID: "r", Operation: OpCreateInferenceProfile, Principal: p},
		&inference.Error{Kind: inference.KindInvalidRequest, Code: codeConflict, Message: "exists"})
	if got := sink.last(t).Status; got != 409 {
		t.Errorf("conflict recorded with status %d, want 409", got)
	}
}

// TestApplicationProfileARNIsTheSourceRegions: an application profile
// created in one region and called in another was audited with its home
// region's ARN.
func TestApplicationProfileARNIsTheSourceRegions(t *testing.T) {
	t.Parallel()
	g, sink, _, p := newRefusalGateway(t, "eu-west-1")
	cat, _, err := g.Catalog().WithApplication(profile.Profile{ID: "app-1", CopyFrom: "eu.m", HomeRegion: "us-east-1", CreatedAt: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	g.SetCatalog(cat)
	_, _ = g.Invoke(t.Context(), &Call{RequestID: "r", Operation: OpChatCompletions, Principal: p,
		Request: &inference.Request{Model: "app-1"}, Received: time.Unix(0, 0)})
	want := "arn:aws:bedrock:eu-west-1:111122223333:application-inference-profile/app-1"
	if got := sink.last(t).ProfileARN; got != want {
		t.Errorf("record's profile ARN = %q, want the source region's %q", got, want)
	}
}

// TestForwardedRecordKeepsTheCallersIdentity: docs/audit.md said a
// destination-side event has userIdentity.type "link"; it carries the
// source caller's method and key id, as the source authenticated them.
func TestForwardedRecordKeepsTheCallersIdentity(t *testing.T) {
	t.Parallel()
	g, sink, _, p := newRefusalGateway(t, "eu-west-1")
	_, _ = g.ServeForwarded(t.Context(), &Job{RequestID: "r", Operation: OpChatCompletions, SourceRegion: "eu-west-1",
		DestinationRegion: "eu-west-1", ProfileID: "eu.m", Model: "m", Principal: p, Request: &inference.Request{Model: "eu.m"}})
	e := sink.last(t)
	if e.Side != "destination" || e.AuthMethod != "apiKey" || e.KeyID != "key-0" {
		t.Errorf("destination record method %q key %q (side %s), want the caller's apiKey key-0", e.AuthMethod, e.KeyID, e.Side)
	}
}

// TestUnrecordedAnswerCountsAsRefused: a non-streaming answer whose record
// cannot be written is withheld (the caller gets the recorder's 503), and
// the request metrics count that 503, never a 200 that was not sent.
func TestUnrecordedAnswerCountsAsRefused(t *testing.T) {
	h := newPathHarness(t)
	h.recorder.err = &inference.Error{Kind: inference.KindUnavailable, RetryAfter: time.Second, Message: "the audit trail cannot be written"}
	if _, err := h.g.Invoke(t.Context(), h.call("r1", "eu.m", false)); inference.AsError(err).Kind != inference.KindUnavailable {
		t.Fatalf("Invoke with the recorder down = %v, want the recorder's 503", err)
	}
	count := func(status string) float64 {
		return counterValue(t, h.g.Metrics().Requests.WithLabelValues("eu-west-1", "eu-west-1", "eu.m", status))
	}
	if got, sent := count("200"), count("503"); got != 0 || sent != 1 {
		t.Errorf("meridian_requests_total: %v with status 200 and %v with 503; want 0 and 1", got, sent)
	}
	tier := func(status string) float64 {
		return counterValue(t, h.g.Metrics().TierRequests.WithLabelValues(inference.TierDefault.String(), status))
	}
	if tier("200") != 0 || tier("503") != 1 {
		t.Errorf("service-tier requests: %v with 200, %v with 503; want 0 and 1", tier("200"), tier("503"))
	}
}

// counterValue reads a counter of the gateway's metrics.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
