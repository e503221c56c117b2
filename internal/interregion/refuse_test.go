package interregion

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

// refusalVerifier refuses every request with err, returning env with it.
type refusalVerifier struct {
	env *envelope.Envelope
	err error
}

func (v refusalVerifier) VerifyForwarded(*http.Request, []byte) (*envelope.Envelope, error) {
	return v.env, v.err
}

// recordingRefuser is a Local and a Refuser that records the refusals it is
// given; it serves nothing.
type recordingRefuser struct {
	jobs      []*dispatch.Job
	residency []bool
}

func (l *recordingRefuser) ServeForwarded(context.Context, *dispatch.Job) (*dispatch.Outcome, error) {
	return nil, errors.New("served a refused request")
}

func (l *recordingRefuser) RefuseForwarded(_ context.Context, job *dispatch.Job, residency bool, err *inference.Error) *inference.Error {
	l.jobs, l.residency = append(l.jobs, job), append(l.residency, residency)
	return err
}

// TestRefusalsReachTheRefuser: a refusal of an authenticated envelope
// (returned with the error) reaches Local's RefuseForwarded, with the
// job the envelope describes and whether it is a residency refusal, and
// the source gets the same answer as without a Refuser; a refusal of an
// envelope that did not authenticate, a replay and a stale envelope do
// not reach it (docs/security.md, "Which refusals the destination audits").
func TestRefusalsReachTheRefuser(t *testing.T) {
	env := &envelope.Envelope{RequestID: "req-1", Operation: "Converse", SourceRegion: "eu-west-1", DestinationRegion: "us-east-1",
		PrincipalID: "tester", ProfileARN: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"}
	refusal := func(r envelope.Reason) error {
		return &inference.Error{Kind: inference.KindPermissionDenied, Code: "link_" + r.String(), Message: "link request refused: " + r.String(),
			Err: envelope.Rejectf(r, "test")}
	}
	tests := []struct {
		name      string
		env       *envelope.Envelope
		reason    envelope.Reason
		refused   bool // reaches RefuseForwarded
		residency bool
	}{
		{"profile excludes the destination", env, envelope.ReasonProfileExcludesDestination, true, true},
		{"geography mismatch", env, envelope.ReasonGeographyMismatch, true, true},
		{"unknown profile", env, envelope.ReasonUnknownProfile, true, true},
		{"wrong destination", env, envelope.ReasonWrongDestination, true, true},
		{"a checker's own error", env, envelope.ReasonCheckFailed, true, true},
		{"region mismatch", env, envelope.ReasonRegionMismatch, true, false},
		{"stale (outside the replay window)", env, envelope.ReasonStale, false, false},
		{"body hash", env, envelope.ReasonBodyHash, true, false},
		{"request metadata hash", env, envelope.ReasonRequestMetadataHash, true, false},
		{"replay", env, envelope.ReasonReplay, false, false},
		{"replay cache full", env, envelope.ReasonReplayCacheFull, false, false},
		{"bad signature (not authenticated)", nil, envelope.ReasonBadSignature, false, false},
		{"unauthenticated", nil, envelope.ReasonUnauthenticated, false, false},
		{"malformed", nil, envelope.ReasonMalformed, false, false},
	}
	answer := func(local Local, v Verifier) (int, string) {
		h := NewServer(ServerOptions{Local: local, Verifier: v})
		req := httptest.NewRequest("POST", PathInvoke, strings.NewReader(`{"messages":[]}`))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := refusalVerifier{env: tc.env, err: refusal(tc.reason)}
			l := &recordingRefuser{}
			status, body := answer(l, v)
			plainStatus, plainBody := answer(refusingLocal{}, v)
			if status != http.StatusForbidden || status != plainStatus || body != plainBody {
				t.Errorf("answer %d %s; without a Refuser %d %s; want the same 403", status, body, plainStatus, plainBody)
			}
			if !strings.Contains(body, "link_"+tc.reason.String()) {
				t.Errorf("answer %s does not name link_%s", body, tc.reason)
			}
			if got := len(l.jobs) == 1; got != tc.refused || len(l.jobs) > 1 {
				t.Fatalf("RefuseForwarded called %d times, want refused=%v", len(l.jobs), tc.refused)
			}
			if !tc.refused {
				return
			}
			j := l.jobs[0]
			if j.RequestID != "req-1" || j.SourceRegion != "eu-west-1" || j.ProfileID != "eu.demo.chat-small" || j.Principal.ID != "tester" || j.Request != nil {
				t.Errorf("job %+v, want the envelope's, without a request", j)
			}
			if l.residency[0] != tc.residency {
				t.Errorf("residency = %v, want %v", l.residency[0], tc.residency)
			}
		})
	}
}
