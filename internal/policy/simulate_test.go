package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSimulate(t *testing.T) {
	t.Parallel()
	guardrail := Document{Name: "eu-only", JSON: []byte(euOnlyGuardrail)}
	invoke := Document{Name: "invoke", JSON: []byte(invokeAll)}
	tests := []struct {
		name       string
		in         SimulateInput
		decision   string
		statements int
		reason     string
	}{
		{
			name:     "allow",
			in:       SimulateInput{Policies: []Document{invoke}, Guardrails: []Document{guardrail}, Action: ActionInvokeModel, Resource: fmEUWest1, Context: ctx{"aws:RequestedRegion": {"eu-west-1"}}},
			decision: "allow", statements: 2, reason: "allowed by invoke/#0",
		},
		{
			name:     "explicit deny",
			in:       SimulateInput{Policies: []Document{invoke}, Guardrails: []Document{guardrail}, Action: ActionInvokeModel, Resource: fmUSEast1, Context: ctx{"aws:RequestedRegion": {"us-east-1"}}},
			decision: "explicitDeny", statements: 3, reason: "explicitly denied by guardrail eu-only/DenyOutsideEU",
		},
		{
			name:     "implicit deny",
			in:       SimulateInput{Policies: []Document{invoke}, Action: ActionDeleteInferenceProfile, Resource: profileEU},
			decision: "implicitDeny", statements: 0, reason: "no identity policy statement allows",
		},
		{
			name:     "implicit deny by guardrail",
			in:       SimulateInput{Policies: []Document{invoke}, Guardrails: []Document{{Name: "s3-only", JSON: []byte(`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`)}}, Action: ActionInvokeModel, Resource: fmEUWest1},
			decision: "implicitDeny", statements: 1, reason: `guardrail "s3-only" has no statement`,
		},
		{
			name:     "no policies",
			in:       SimulateInput{Action: ActionInvokeModel, Resource: fmEUWest1},
			decision: "implicitDeny", statements: 0, reason: "no identity policy is attached",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Simulate(tc.in)
			if err != nil {
				t.Fatalf("Simulate: %v", err)
			}
			b, err := json.Marshal(rep)
			if err != nil {
				t.Fatalf("marshal report: %v", err)
			}
			var out struct {
				Decision string            `json:"decision"`
				Matched  []json.RawMessage `json:"matchedStatements"`
				Reason   string            `json:"reason"`
			}
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			if out.Decision != tc.decision {
				t.Errorf("decision = %q, want %q (report %s)", out.Decision, tc.decision, b)
			}
			if len(out.Matched) != tc.statements || out.Matched == nil {
				t.Errorf("matchedStatements = %d, want %d (report %s)", len(out.Matched), tc.statements, b)
			}
			if !strings.Contains(out.Reason, tc.reason) {
				t.Errorf("reason = %q, want it to contain %q", out.Reason, tc.reason)
			}
			text := rep.Text()
			if !strings.Contains(text, "decision: "+tc.decision) {
				t.Errorf("Text() = %q, want the decision", text)
			}
		})
	}
}

func TestSimulateJSONShape(t *testing.T) {
	t.Parallel()
	rep, err := Simulate(SimulateInput{
		Policies: []Document{{Name: "invoke", JSON: []byte(`{"Version":"2012-10-17","Statement":{"Sid":"Invoke","Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}}`)}},
		Action:   ActionInvokeModel, Resource: fmEUWest1,
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	want := `{
  "decision": "allow",
  "action": "bedrock:InvokeModel",
  "resource": "arn:aws:bedrock:eu-west-1::foundation-model/demo.chat-small",
  "decidingStatement": {
    "policy": "invoke",
    "sid": "Invoke",
    "index": 0
  },
  "matchedStatements": [
    {
      "policy": "invoke",
      "sid": "Invoke",
      "index": 0,
      "effect": "Allow"
    }
  ],
  "reason": "allowed by invoke/Invoke"
}`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("report JSON (-want +got):\n%s", diff)
	}
}

func TestSimulateBadInput(t *testing.T) {
	t.Parallel()
	_, err := Simulate(SimulateInput{Policies: []Document{{Name: "broken.json", JSON: []byte(`{"Statement":{"Effect":"Permit","Action":"*","Resource":"*"}}`)}}, Action: "x:y", Resource: "*"})
	if err == nil || !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), `policy "broken.json": Statement[0].Effect`) {
		t.Errorf("Simulate(bad policy) error = %v, want the policy name, statement and field", err)
	}
	if _, err := Simulate(SimulateInput{Resource: "*"}); err == nil {
		t.Errorf("Simulate without action = nil error")
	}
	if _, err := Simulate(SimulateInput{Action: "x:y"}); err == nil {
		t.Errorf("Simulate without resource = nil error")
	}
}

func TestParseContextJSON(t *testing.T) {
	t.Parallel()
	got, err := ParseContextJSON([]byte(`{"aws:SourceIp":"203.0.113.9","aws:TagKeys":["team","cost-center"],"aws:SecureTransport":true,"x:n":5,"aws:TagKeys2":[]}`))
	if err != nil {
		t.Fatalf("ParseContextJSON: %v", err)
	}
	want := map[string][]string{
		"aws:SourceIp":        {"203.0.113.9"},
		"aws:TagKeys":         {"team", "cost-center"},
		"aws:SecureTransport": {"true"},
		"x:n":                 {"5"},
		"aws:TagKeys2":        {},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseContextJSON (-want +got):\n%s", diff)
	}
	for _, bad := range []string{`[]`, `null`, `{"aws:x":{"a":1}}`, `{"aws:x":[1,{}]}`, `{"nokey":"v"}`, `{`} {
		if _, err := ParseContextJSON([]byte(bad)); !errors.Is(err, ErrInvalidContext) {
			t.Errorf("ParseContextJSON(%s) error = %v, want ErrInvalidContext", bad, err)
		}
	}
	m := map[string][]string{}
	for _, arg := range []string{"aws:TagKeys=a", "aws:TagKeys=b", "aws:SourceIp=203.0.113.9", "x:empty="} {
		if err := ParseContextPair(m, arg); err != nil {
			t.Errorf("ParseContextPair(%q): %v", arg, err)
		}
	}
	if diff := cmp.Diff(map[string][]string{"aws:TagKeys": {"a", "b"}, "aws:SourceIp": {"203.0.113.9"}, "x:empty": {""}}, m); diff != "" {
		t.Errorf("ParseContextPair (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"novalue", "=v", "key=v"} {
		if err := ParseContextPair(m, bad); !errors.Is(err, ErrInvalidContext) {
			t.Errorf("ParseContextPair(%q) error = %v, want ErrInvalidContext", bad, err)
		}
	}
}

func TestExplainInvoke(t *testing.T) {
	t.Parallel()
	set := NewSet(mustParseAll(t, "id", []string{invokeAll}), mustParseAll(t, "eu-only", []string{euOnlyGuardrail}))
	inv := Invocation{Action: ActionInvokeModel, SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations[:1]}
	reps := set.ExplainInvoke(&inv, nil)
	if len(reps) != 1 {
		t.Fatalf("ExplainInvoke returned %d reports", len(reps))
	}
	b, _ := json.Marshal(reps[0])
	for _, want := range []string{
		`"region":"us-east-1"`, `"decision":"explicitDeny"`,
		`"contextOverrides":{"aws:RequestedRegion":"eu-west-1"}`,
		`"contextOverrides":{"aws:RequestedRegion":"us-east-1","bedrock:InferenceProfileArn":"` + profileGlob + `"}`,
		`"sid":"DenyOutsideEU"`,
		`"denial":{"action":"bedrock:InvokeModel","resource":"arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small","decision":"explicitDeny"}`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("ExplainInvoke JSON %s\nwant it to contain %s", b, want)
		}
	}
}

func TestSimulateInvoke(t *testing.T) {
	t.Parallel()
	identity := mustParseAll(t, "claims", []string{`{"Version":"2012-10-17","Statement":[
		{"Sid":"Profiles","Effect":"Allow","Action":"bedrock:InvokeModel*","Resource":"arn:aws:bedrock:*:111122223333:*inference-profile/*",
		 "Condition":{"StringEquals":{"aws:PrincipalTag/team":"claims","meridian:Geography":"eu"}}},
		{"Sid":"Models","Effect":"Allow","Action":"bedrock:InvokeModel*","Resource":"arn:aws:bedrock:*::foundation-model/*",
		 "Condition":{"StringLike":{"aws:RequestedRegion":"eu-*"},"StringEquals":{"aws:username":"claims-service"}}}]}`})
	rep := SimulateInvoke(InvokeSimulation{
		Policies:      identity,
		Guardrails:    mustParseAll(t, "eu-only", []string{euOnlyGuardrail}),
		Username:      "claims-service",
		UserID:        "claims-service",
		PrincipalTags: map[string]string{"team": "claims"},
		Geography:     "eu",
		Invocation:    Invocation{SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations},
		Context:       map[string][]string{"aws:SourceIp": {"203.0.113.9"}},
	})
	if diff := cmp.Diff([]string{"eu-west-1", "eu-central-1"}, rep.AllowedRegions); diff != "" {
		t.Errorf("AllowedRegions (-want +got):\n%s", diff)
	}
	if rep.Action != ActionInvokeModel {
		t.Errorf("Action = %q, want the default %q", rep.Action, ActionInvokeModel)
	}
	text := rep.Text()
	for _, want := range []string{
		"allowed:        eu-west-1, eu-central-1",
		"us-east-1: explicitDeny",
		"denied by guardrail eu-only0/DenyOutsideEU",
		"client sees: not authorized to perform bedrock:InvokeModel on resource arn:aws:bedrock:us-east-1::foundation-model/demo.chat-small",
		"allow bedrock:InvokeModel on " + profileGlob + ": allowed by claims0/Profiles",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Text() =\n%s\nwant it to contain %q", text, want)
		}
	}
	// Without the principal's tag nothing is allowed.
	rep = SimulateInvoke(InvokeSimulation{Policies: identity, Username: "claims-service", Geography: "eu",
		Invocation: Invocation{SourceRegion: "eu-west-1", ProfileARN: profileGlob, Destinations: globalDestinations}})
	if len(rep.AllowedRegions) != 0 || !strings.Contains(rep.Text(), "allowed:        none") {
		t.Errorf("without the team tag AllowedRegions = %v, want none", rep.AllowedRegions)
	}
}
