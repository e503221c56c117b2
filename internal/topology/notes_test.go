package topology

import (
	"strings"
	"testing"
)

// TestPolicyActionNotes: a policy naming Bedrock actions Meridian never
// authorizes, or other services' actions, loads (Parse returns no error);
// each unserved Bedrock entry is a note with its field, line and a pointer
// to the docs, in line order; other services' actions get none.
func TestPolicyActionNotes(t *testing.T) {
	t.Parallel()
	in := strings.Replace(base, "Action: bedrock:InvokeModel\n",
		"Action: [bedrock:InvokeModel, bedrock:ListFoundationModels, s3:GetObject, kms:Decrypt]\n", 1)
	in = strings.Replace(in, "policies:\n  invoke",
		"guardrails:\n  - {name: g, policy: {Statement: [{Effect: Allow, Action: \"*\", Resource: \"*\"}, {Effect: Deny, Action: \"bedrock:*Agent*\", Resource: \"*\"}]}}\npolicies:\n  invoke", 1)
	cfg, err := Parse([]byte(in), "topo.yaml")
	if err != nil {
		t.Fatalf("Parse = %v, want nil: notes do not refuse the file", err)
	}
	var got []string
	for _, n := range cfg.Notes() {
		if n.Severity != SeverityNote || n.Line == 0 || n.Hint == "" {
			t.Errorf("note %v: severity %d, line %d, hint %q", n, n.Severity, n.Line, n.Hint)
		}
		got = append(got, n.Error())
	}
	want := []string{
		`topo.yaml:39: guardrails[0].policy: note: guardrail "g": Statement[1].Action: "bedrock:*Agent*" matches only Bedrock actions Meridian never authorizes: it allows or denies nothing here (see docs/policies.md#actions)`,
		`topo.yaml:41: policies.invoke-eu-only: note: policy "invoke-eu-only": Statement[0].Action[1]: "bedrock:ListFoundationModels" is a Bedrock action Meridian never authorizes: it allows or denies nothing here (see docs/policies.md#actions)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestNoteFormat: a note says it is one and where to read more; a problem
// keeps its "(fix: ...)".
func TestNoteFormat(t *testing.T) {
	t.Parallel()
	n := &ConfigError{File: "f.yaml", Line: 3, Field: "policies.p", Msg: "m", Hint: "docs/policies.md#actions", Severity: SeverityNote}
	if got, want := n.Error(), "f.yaml:3: policies.p: note: m (see docs/policies.md#actions)"; got != want {
		t.Errorf("note = %q, want %q", got, want)
	}
	e := &ConfigError{File: "f.yaml", Line: 3, Field: "policies.p", Msg: "m", Hint: "h"}
	if got, want := e.Error(), "f.yaml:3: policies.p: m (fix: h)"; got != want {
		t.Errorf("problem = %q, want %q", got, want)
	}
}
