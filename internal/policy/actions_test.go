package policy

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestCheckActions: every Action or NotAction entry is classified. One
// that names (or is a wildcard matching) an action Meridian authorizes
// passes silently; a real Bedrock action Meridian never authorizes passes
// with a note; another service's action passes silently; a bedrock: entry
// that is no Bedrock action, or a misspelt bedrock prefix, is a
// *ParseError naming the statement and the entry, with the nearest action
// only when it is a plausible typo.
func TestCheckActions(t *testing.T) {
	tests := []struct {
		name, actions string // the statement's Action (JSON)
		not           bool   // NotAction instead
		want          []string
		notes         []string
	}{
		{name: "known", actions: `["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream","bedrock:TagResource"]`},
		{name: "any case", actions: `["BEDROCK:invokemodel","Bedrock:InvokeModel"]`},
		{name: "star", actions: `"*"`},
		{name: "service wildcard", actions: `"bedrock:*"`},
		{name: "prefix wildcard", actions: `["bedrock:Invoke*","bedrock:*InferenceProfile?"]`},
		{name: "wildcard service prefix matching a known action", actions: `"*:InvokeModel"`},
		{name: "typo", actions: `"bedrock:InvokeModell"`,
			want: []string{`Statement[0] (Sid "S").Action: "bedrock:InvokeModell" is not an IAM action of Amazon Bedrock; did you mean "bedrock:InvokeModel"?`}},
		{name: "typo in a list", actions: `["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStrem"]`,
			want: []string{`Action[1]: "bedrock:InvokeModelWithResponseStrem" is not an IAM action of Amazon Bedrock; did you mean "bedrock:InvokeModelWithResponseStream"?`}},
		{name: "typo in another case", actions: `"BEDROCK:invokemodell"`, want: []string{`did you mean "bedrock:InvokeModel"?`}},
		{name: "plural", actions: `"bedrock:GetInferenceProfiles"`, want: []string{`did you mean "bedrock:GetInferenceProfile"?`}},
		{name: "typo of an unserved action", actions: `"bedrock:UntagResorce"`, want: []string{`did you mean "bedrock:UntagResource"?`}},
		{name: "typo in NotAction", actions: `"bedrock:InvokeModell"`, not: true, want: []string{`NotAction: "bedrock:InvokeModell"`}},
		{name: "far from every action", actions: `"bedrock:DoEverythingPlease"`,
			want: []string{`Action: "bedrock:DoEverythingPlease" is not an IAM action of Amazon Bedrock`}},
		{name: "Converse is an operation", actions: `"bedrock:Converse"`,
			want: []string{`"bedrock:Converse" is a Bedrock API operation, not an IAM action: Bedrock authorizes it as bedrock:InvokeModel (ConverseStream: bedrock:InvokeModelWithResponseStream)`}},
		{name: "ConverseStream is an operation", actions: `"bedrock:conversestream"`,
			want: []string{`Bedrock authorizes it as bedrock:InvokeModelWithResponseStream`}},
		{name: "wildcard matching no Bedrock action", actions: `"bedrock:Invok*Strem"`,
			want: []string{`"bedrock:Invok*Strem" is not an IAM action of Amazon Bedrock (the wildcard matches none)`}},
		{name: "wildcard matching only operations", actions: `"bedrock:Converse*"`, want: []string{`(the wildcard matches none)`}},
		{name: "misspelt prefix", actions: `"bedrok:InvokeModel"`,
			want: []string{`"bedrok:InvokeModel": "bedrok" is not a service prefix; did you mean "bedrock:InvokeModel"?`}},
		{name: "misspelt prefix and action", actions: `"bedrockk:InvokeModell"`, want: []string{`did you mean "bedrock:InvokeModel"?`}},
		{name: "misspelt prefix with a wildcard", actions: `"bedroc:Invoke*"`, want: []string{`did you mean "bedrock:Invoke*"?`}},
		{name: "unserved Bedrock actions", actions: `["bedrock:UntagResource","bedrock:ListTagsForResource","bedrock:ApplyGuardrail","bedrock:InvokeModelWithBidirectionalStream","bedrock:CallWithBearerToken"]`,
			notes: []string{
				`Action[0]: "bedrock:UntagResource" is a Bedrock action Meridian never authorizes: it allows or denies nothing here`,
				`Action[1]: "bedrock:ListTagsForResource" is a Bedrock action`,
				`Action[2]: "bedrock:ApplyGuardrail" is a Bedrock action`,
				`Action[3]: "bedrock:InvokeModelWithBidirectionalStream" is a Bedrock action`,
				`Action[4]: "bedrock:CallWithBearerToken" is a Bedrock action`,
			}},
		{name: "unserved in another case", actions: `"Bedrock:untagresource"`, notes: []string{`"Bedrock:untagresource" is a Bedrock action Meridian never authorizes`}},
		{name: "unserved in NotAction", actions: `"bedrock:InvokeAgent"`, not: true, notes: []string{`NotAction: "bedrock:InvokeAgent" is a Bedrock action Meridian never authorizes: leaving it out of the statement changes nothing here`}},
		{name: "wildcard matching only unserved actions", actions: `["bedrock:*Agent*","bedrock:Retrieve*"]`,
			notes: []string{`Action[0]: "bedrock:*Agent*" matches only Bedrock actions Meridian never authorizes`, `Action[1]: "bedrock:Retrieve*" matches only`}},
		{name: "wildcard service prefix matching only unserved actions", actions: `"*:ListFoundationModels"`, notes: []string{`matches only Bedrock actions`}},
		{name: "other services", actions: `["s3:GetObject","kms:Decrypt","bedrock-agentcore:InvokeAgentRuntime","*:GetObject"]`},
		{name: "everything at once", actions: `["bedrock:InvokeModel*","bedrock:ListFoundationModels","s3:GetObject","bedrock:InvokeModell"]`,
			want:  []string{`Action[3]: "bedrock:InvokeModell"`},
			notes: []string{`Action[1]: "bedrock:ListFoundationModels" is a Bedrock action`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := "Action"
			if tc.not {
				key = "NotAction"
			}
			p := MustParse("p", `{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow","`+key+`":`+tc.actions+`,"Resource":"*"}]}`)
			var notes []string
			for _, n := range p.ActionNotes() {
				notes = append(notes, n.Error())
			}
			if len(notes) != len(tc.notes) {
				t.Errorf("ActionNotes =\n%s\nwant %d notes", strings.Join(notes, "\n"), len(tc.notes))
			} else {
				for i, w := range tc.notes {
					if !strings.Contains(notes[i], w) {
						t.Errorf("note %q, want it to contain %q", notes[i], w)
					}
				}
			}
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

// TestNearestAction: a suggestion only for a plausible typo, and a real
// Bedrock action is never called a typo of another.
func TestNearestAction(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"bedrock:InvokeModell", ActionInvokeModel},
		{"bedrock:invokemodelwithresponsestrem", ActionInvokeModelWithResponseStream},
		{"bedrock:UntagResource", "bedrock:UntagResource"},
		{"bedrock:TagResourc", ActionTagResource},
		{"bedrock:ListFoundationModel", "bedrock:ListFoundationModels"},
		{"bedrock:Converse", ""},
		{"bedrock:Frobnicate", ""},
		{"s3:GetObjet", ""},
	} {
		if got := NearestAction(tc.in); got != tc.want {
			t.Errorf("NearestAction(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestBedrockActions: the embedded list is sorted, free of duplicates and
// prefixes, holds every action Meridian authorizes and none of the
// operations that are authorized as another action.
func TestBedrockActions(t *testing.T) {
	if !slices.IsSorted(bedrockActions) {
		t.Error("bedrockActions is not sorted")
	}
	if len(slices.Compact(slices.Clone(bedrockActions))) != len(bedrockActions) {
		t.Error("bedrockActions has duplicates")
	}
	all := BedrockActions()
	for _, a := range knownActions {
		if !strings.HasPrefix(a, "bedrock:") {
			continue // Meridian's own (meridian:ViewTraffic)
		}
		if !slices.Contains(all, a) {
			t.Errorf("%s is not in bedrockActions", a)
		}
	}
	// Every Bedrock action, in any case, is used or noted, never an error.
	for _, a := range all {
		want := ActionUnserved
		if knownActionIndex(a) >= 0 {
			want = ActionServed
		}
		for _, s := range []string{a, strings.ToLower(a), strings.ToUpper(a)} {
			if got, msg := ClassifyAction(s); got != want {
				t.Errorf("ClassifyAction(%q) = %d (%s), want %d", s, got, msg, want)
			}
		}
	}
	for _, a := range bedrockActions {
		if strings.Contains(a, ":") || strings.ContainsAny(a, "*? ") {
			t.Errorf("bedrockActions entry %q is not a bare action name", a)
		}
		if _, ok := operationActions[strings.ToLower(a)]; ok {
			t.Errorf("%q is both an action and an operation authorized as another", a)
		}
	}
}

// TestCheckActionsLeavesEvaluationAlone: a policy that fails CheckActions
// still evaluates as IAM does (the check is for loading a topology, not a
// change of the language).
func TestCheckActionsLeavesEvaluationAlone(t *testing.T) {
	p := MustParse("p", `{"Statement":{"Effect":"Allow","Action":["bedrock:InvokeModell","s3:GetObject","bedrock:InvokeModel"],"Resource":"*"}}`)
	if p.CheckActions() == nil {
		t.Fatal("CheckActions = nil, want bedrock:InvokeModell named")
	}
	set := NewSet([]*Policy{p}, nil)
	for _, a := range []string{"s3:GetObject", "bedrock:InvokeModell", ActionInvokeModel} {
		if got := set.Evaluate(a, "arn:aws:s3:::b/k", nil).Decision; got != Allow {
			t.Errorf("%s: %v, want allow", a, got)
		}
	}
}

// TestCheckAction: the simulator's --action is classified like a policy
// entry: unknown Bedrock actions are errors, actions Meridian never
// authorizes are notes.
func TestCheckAction(t *testing.T) {
	for _, tc := range []struct {
		in        string
		note, err string // substrings; "" for none
	}{
		{in: "bedrock:invokemodel"},
		{in: "Bedrock:InvokeModelWithResponseStream"},
		{in: "bedrock:InvokeModell", err: `did you mean "bedrock:InvokeModel"?`},
		{in: "bedrock:Converse", err: "Bedrock authorizes it as bedrock:InvokeModel"},
		{in: "bedrok:InvokeModel", err: `did you mean "bedrock:InvokeModel"?`},
		{in: "bedrock:Invoke*", err: "a request names one action"},
		{in: "InvokeModel", err: "want service:action"},
		{in: "bedrock:UntagResource", note: `"bedrock:UntagResource" is a Bedrock action Meridian never authorizes`},
		{in: "bedrock:ApplyGuardrail", note: "never authorizes"},
		{in: "s3:GetObject", note: `"s3:GetObject" is not a Bedrock action: Meridian never authorizes it`},
		{in: "meridian:ViewTraffic"}, // Meridian's own: authorized, no note
		{in: "Meridian:viewtraffic"},
	} {
		note, err := CheckAction(tc.in)
		if (err != nil) != (tc.err != "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("CheckAction(%q) error = %v, want %q", tc.in, err, tc.err)
		}
		if (note != "") != (tc.note != "") || !strings.Contains(note, tc.note) {
			t.Errorf("CheckAction(%q) note = %q, want %q", tc.in, note, tc.note)
		}
	}
}

// FuzzClassifyAction: any entry is classified without panicking; one that
// matches a Meridian action is used, and every error or note quotes the
// entry; a suggestion is a Bedrock action.
func FuzzClassifyAction(f *testing.F) {
	for _, s := range []string{"bedrock:InvokeModel", "bedrock:InvokeModell", "bedrock:Converse", "bedrok:InvokeModel",
		"bedrock:Invok*Strem", "*:Get*", "s3:GetObject", "*", "bedrock:*Agent*", "Bedrock:UntagResource", "bedrock:", ":", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		if len(entry) > 256 {
			t.Skip() // action names are short
		}
		class, msg := ClassifyAction(entry)
		p, err := compilePattern(entry, compileOptions{wildcards: true, fold: true})
		if err == nil && (knownActionMask([]pattern{p}) != 0) != (class == ActionServed) {
			t.Fatalf("ClassifyAction(%q) = %d, but the known-action mask says otherwise", entry, class)
		}
		if (class == ActionUnknown || class == ActionUnserved) && !strings.Contains(msg, strconv.Quote(entry)) {
			t.Fatalf("ClassifyAction(%q) message %q does not quote the entry", entry, msg)
		}
		if near := NearestAction(entry); near != "" && !slices.Contains(BedrockActions(), near) {
			t.Fatalf("NearestAction(%q) = %q, not a Bedrock action", entry, near)
		}
		_, _ = CheckAction(entry)
	})
}
