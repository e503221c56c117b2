package policy

import (
	"errors"
	"strings"
	"testing"
)

// TestCheckActions: an Action or NotAction entry must name an action
// Meridian authorizes, or be a wildcard matching one; anything else is a
// *ParseError naming the statement and entry, with the nearest action.
func TestCheckActions(t *testing.T) {
	tests := []struct {
		name, actions string // the statement's Action (JSON)
		not           bool   // NotAction instead
		want          []string
	}{
		{name: "known", actions: `["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream","bedrock:TagResource"]`},
		{name: "any case", actions: `"BEDROCK:invokemodel"`},
		{name: "star", actions: `"*"`},
		{name: "service wildcard", actions: `"bedrock:*"`},
		{name: "prefix wildcard", actions: `["bedrock:Invoke*","bedrock:*InferenceProfile?"]`},
		{name: "typo", actions: `"bedrock:InvokeModell"`,
			want: []string{`Statement[0] (Sid "S").Action: "bedrock:InvokeModell" is not an action Meridian authorizes; did you mean "bedrock:InvokeModel"?`}},
		{name: "typo in a list", actions: `["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStrem"]`,
			want: []string{`Action[1]: "bedrock:InvokeModelWithResponseStrem" is not an action Meridian authorizes; did you mean "bedrock:InvokeModelWithResponseStream"?`}},
		{name: "plural", actions: `"bedrock:GetInferenceProfiles"`, want: []string{`did you mean "bedrock:GetInferenceProfile"?`}},
		{name: "typo in NotAction", actions: `"bedrock:InvokeModell"`, not: true, want: []string{`NotAction: "bedrock:InvokeModell"`}},
		{name: "wildcard matching none", actions: `"bedrock:Converse*"`, want: []string{`"bedrock:Converse*" is not an action Meridian authorizes (the wildcard matches none of them)`}},
		{name: "another service", actions: `["s3:GetObject","bedrock:ApplyGuardrail"]`,
			want: []string{`Action[0]: "s3:GetObject" is not an action Meridian authorizes`, `Action[1]: "bedrock:ApplyGuardrail" is not an action Meridian authorizes`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := "Action"
			if tc.not {
				key = "NotAction"
			}
			p := MustParse("p", `{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow","`+key+`":`+tc.actions+`,"Resource":"*"}]}`)
			err := p.CheckActions()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("CheckActions = %v, want nil", err)
				}
				return
			}
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("CheckActions = %v, want *ParseError", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("CheckActions =\n%v\nwant %d problems", err, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("problem %q, want it to contain %q", lines[i], w)
				}
			}
		})
	}
}

// TestCheckActionsLeavesEvaluationAlone: a policy that fails CheckActions
// still evaluates as IAM does (the check is for loading a topology, not a
// change of the language).
func TestCheckActionsLeavesEvaluationAlone(t *testing.T) {
	p := MustParse("p", `{"Statement":{"Effect":"Allow","Action":["s3:GetObject","bedrock:InvokeModel"],"Resource":"*"}}`)
	if p.CheckActions() == nil {
		t.Fatal("CheckActions = nil, want s3:GetObject named")
	}
	set := NewSet([]*Policy{p}, nil)
	for _, a := range []string{"s3:GetObject", ActionInvokeModel} {
		if got := set.Evaluate(a, "arn:aws:s3:::b/k", nil).Decision; got != Allow {
			t.Errorf("%s: %v, want allow", a, got)
		}
	}
}

func TestCheckAction(t *testing.T) {
	if err := CheckAction("bedrock:invokemodel"); err != nil {
		t.Errorf("CheckAction(any case) = %v", err)
	}
	if err := CheckAction("bedrock:InvokeModell"); err == nil || !strings.Contains(err.Error(), `did you mean "bedrock:InvokeModel"?`) {
		t.Errorf("CheckAction(typo) = %v, want a suggestion", err)
	}
	if err := CheckAction("bedrock:Invoke*"); err == nil {
		t.Error("CheckAction(wildcard) = nil, want an error: a request names one action")
	}
}
