package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		doc        string
		statements int
	}{
		{"statement object", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}}`, 1},
		{"statement array", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["bedrock:InvokeModel"],"Resource":["*"]},{"Sid":"D","Effect":"Deny","NotAction":"bedrock:*","NotResource":"arn:aws:bedrock:eu-*"}]}`, 2},
		{"no version", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, 1},
		{"old version", `{"Version":"2008-10-17","Id":"x","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, 1},
		{"condition scalars", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{
			"Bool":{"aws:SecureTransport":true},
			"NumericLessThan":{"s3:max-keys":10},
			"NumericGreaterThanEquals":{"x:y":[1.5,"2"]},
			"StringEquals":{"aws:username":["alice",7]},
			"DateLessThan":{"aws:CurrentTime":"2026-12-31T23:59:59Z"},
			"DateGreaterThan":{"aws:EpochTime":1700000000},
			"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32","198.51.100.7"]},
			"Null":{"x:TokenIssueTime":"true"},
			"ForAllValues:StringLike":{"aws:TagKeys":["team","cost-*"]},
			"ForAnyValue:StringNotEqualsIgnoreCase":{"aws:TagKeys":"x"},
			"StringLikeIfExists":{"aws:ResourceTag/team":"claims"},
			"ArnLike":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:*:*:inference-profile/*"},
			"BinaryEquals":{"x:key":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="},
			"stringequals":{"aws:RequestedRegion":"eu-west-1"}
		}}}`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.name, []byte(tc.doc))
			if err != nil {
				t.Fatalf("Parse(%s) error: %v", tc.doc, err)
			}
			if p.Len() != tc.statements {
				t.Errorf("Parse(%s) has %d statements, want %d", tc.doc, p.Len(), tc.statements)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	stmt := func(body string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},` + body + `]}`
	}
	tests := []struct {
		name string
		doc  string
		want []string // substrings of the error
	}{
		{"not json", `{`, []string{"not valid JSON"}},
		{"trailing data", `{"Statement":[]} {}`, []string{"extra data"}},
		{"not object", `[]`, []string{"must be a JSON object"}},
		{"bad version", `{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, []string{"Version", `"2012-10-18"`}},
		{"no statement", `{"Version":"2012-10-17"}`, []string{"Statement: missing"}},
		{"empty statement", `{"Version":"2012-10-17","Statement":[]}`, []string{"Statement: empty"}},
		{"unknown element", `{"Version":"2012-10-17","Statment":[]}`, []string{"Statment", "unknown policy element"}},
		{"bad effect", stmt(`{"Effect":"Alow","Action":"*","Resource":"*"}`), []string{`Statement[1].Effect: "Alow" is not "Allow" or "Deny"`}},
		{"missing effect", stmt(`{"Action":"*","Resource":"*"}`), []string{"Statement[1].Effect: missing"}},
		{"sid in message", stmt(`{"Sid":"EU","Effect":"Allow","Resource":"*"}`), []string{`Statement[1] (Sid "EU").Action: missing`}},
		{"both actions", stmt(`{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}`), []string{"Statement[1].NotAction", "not both"}},
		{"both resources", stmt(`{"Effect":"Allow","Action":"*","NotResource":"*","Resource":"*"}`), []string{"Statement[1].Resource", "not both"}},
		{"missing resource", stmt(`{"Effect":"Allow","Action":"*"}`), []string{"Statement[1].Resource: missing"}},
		{"bad action", stmt(`{"Effect":"Allow","Action":["bedrock:InvokeModel","InvokeModel"],"Resource":"*"}`), []string{`Statement[1].Action[1]: "InvokeModel" is not an action`}},
		{"action not string", stmt(`{"Effect":"Allow","Action":[1],"Resource":"*"}`), []string{"Statement[1].Action", "must be a string"}},
		{"empty action list", stmt(`{"Effect":"Allow","Action":[],"Resource":"*"}`), []string{"Statement[1].Action: empty list"}},
		{"bad arn", stmt(`{"Effect":"Allow","Action":"*","Resource":"arn:aws:bedrock"}`), []string{`Statement[1].Resource: "arn:aws:bedrock" is not an ARN pattern`}},
		{"not arn", stmt(`{"Effect":"Allow","Action":"*","Resource":["*","bucket/x"]}`), []string{`Statement[1].Resource[1]: "bucket/x" is not an ARN pattern`}},
		{"bad variable", stmt(`{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username"}`), []string{"Statement[1].Resource", "unterminated policy variable"}},
		{"principal", stmt(`{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}`), []string{"Statement[1].Principal", "not allowed"}},
		{"unknown statement element", stmt(`{"Effect":"Allow","Actions":"*","Resource":"*"}`), []string{"Statement[1].Actions", "unknown statement element"}},
		{"statement not object", stmt(`"x"`), []string{"Statement[1]: statement must be an object"}},
		{"unknown operator", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"a"}}}`), []string{"Statement[1].Condition.StringEqualz.aws:username", `unknown condition operator "StringEqualz"`}},
		{"unknown set operator", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"aws:TagKeys":"a"}}}`), []string{"unknown condition set operator"}},
		{"null ifexists", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"aws:username":"true"}}}`), []string{"Null takes no IfExists"}},
		{"bad number", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"x:n":"ten"}}}`), []string{`"ten" is not a number`}},
		{"bad date", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}`), []string{`"tomorrow" is not a date`}},
		{"bad bool", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"yes"}}}`), []string{`"yes" is not true or false`}},
		{"bad cidr", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}`), []string{"not an IP address or CIDR"}},
		{"bad key", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"username":"a"}}}`), []string{`"username" is not a condition key`}},
		{"null value", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":null}}}`), []string{"not null"}},
		{"no values", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":[]}}}`), []string{"no values"}},
		{"condition not object", stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":"x"}`), []string{"Statement[1].Condition: must be an object"}},
		{"duplicate sid", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"}]}`, []string{"Statement[1]", "duplicate Sid"}},
		{"every problem reported", stmt(`{"Effect":"Alow","Action":"x","Resource":"y"}`), []string{"Effect", "Action", "Resource"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p", []byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse(%s) = nil error, want %q", tc.doc, tc.want)
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Errorf("Parse(%s) error %v does not match ErrInvalidPolicy", tc.doc, err)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Errorf("Parse(%s) error %v is not a *ParseError", tc.doc, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Parse(%s) error = %q, want it to contain %q", tc.doc, err, w)
				}
			}
			if strings.Contains(err.Error(), `"p"`) {
				t.Errorf("Parse error %q names the policy; callers add the name", err)
			}
		})
	}
}

func TestFromValueYAMLShapes(t *testing.T) {
	t.Parallel()
	// What the YAML decoder (go.yaml.in/yaml/v3) yields for the config's inline policy.
	doc := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Effect":   "Allow",
			"Action":   []any{"bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"},
			"Resource": []any{"arn:aws:bedrock:eu-*:111122223333:inference-profile/eu.*", "arn:aws:bedrock:eu-*::foundation-model/*"},
			"Condition": map[any]any{
				"NumericLessThan": map[string]any{"x:n": 10},
				"Bool":            map[string]any{"aws:SecureTransport": true},
			},
		}},
	}
	p, err := FromValue("invoke-eu-only", doc)
	if err != nil {
		t.Fatalf("FromValue: %v", err)
	}
	if p.Name() != "invoke-eu-only" || p.Len() != 1 || p.Version() != Version2012 {
		t.Errorf("FromValue = %q, %d statements, version %q", p.Name(), p.Len(), p.Version())
	}
}

func TestVersion2008KeepsVariablesLiteral(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		version string
		want    Decision
	}{
		{`"Version":"2012-10-17",`, Allow},
		{`"Version":"2008-10-17",`, ImplicitDeny},
		{``, ImplicitDeny},
	} {
		p := MustParse("p", `{`+tc.version+`"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::home/${aws:username}/*"}}`)
		c := &Context{}
		c.Add(KeyUsername, "alice")
		if got := NewSet([]*Policy{p}, nil).Evaluate("s3:GetObject", "arn:aws:s3:::home/alice/f", c).Decision; got != tc.want {
			t.Errorf("version %s: Evaluate = %v, want %v", tc.version, got, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	seeds := []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["bedrock:InvokeModel*","bedrock:CreateInferenceProfile"],"Resource":["arn:aws:bedrock:*::foundation-model/*","arn:aws:bedrock:*:*:inference-profile/*","arn:aws:bedrock:*:*:application-inference-profile/*"]},{"Effect":"Allow","Action":["bedrock:GetInferenceProfile","bedrock:ListInferenceProfiles","bedrock:DeleteInferenceProfile","bedrock:TagResource"],"Resource":["arn:aws:bedrock:*:*:inference-profile/*","arn:aws:bedrock:*:*:application-inference-profile/*"]}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"],"Resource":"arn:aws:bedrock:*::foundation-model/*","Condition":{"StringEquals":{"aws:RequestedRegion":["aa-example-1","aa-example-2"]},"ArnNotLike":{"bedrock:InferenceProfileArn":["arn:aws:bedrock:*:*:application-inference-profile/*","arn:aws:bedrock:*:*:inference-profile/*"]}}}]}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"bedrock:*","Resource":"*","Condition":{"StringEquals":{"aws:RequestedRegion":["us-east-1"]}}}}`,
		`{"Version":"2012-10-17","Statement":{"Sid":"DenyRestrictedTags","Effect":"Deny","Action":["iam:Tag*","iam:UnTag*"],"Resource":["*"],"Condition":{"ForAllValues:StringNotLike":{"aws:TagKeys":"key1*"}}}}`,
		`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${aws:username}/${*}","Condition":{"StringEqualsIfExists":{"aws:PrincipalTag/team":"${aws:ResourceTag/team, 'none'}"},"IpAddress":{"aws:SourceIp":"203.0.113.0/24"},"DateLessThan":{"aws:CurrentTime":"2026-01-01"},"NumericLessThanEquals":{"x:n":3},"Bool":{"aws:SecureTransport":false},"Null":{"aws:userid":"false"}}}}`,
		`{"Statement":{"Effect":"Alow","Action":"x","Resource":"y"}}`,
		`{}`,
		`[]`,
		`null`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 64<<10 {
			t.Skip() // policies are small; IAM caps them at a few KiB
		}
		p, err := Parse("fuzz", doc)
		if err != nil {
			if p != nil {
				t.Fatalf("Parse returned a policy and an error")
			}
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("Parse error %v does not match ErrInvalidPolicy", err)
			}
			return
		}
		if p.Len() == 0 {
			t.Fatalf("Parse accepted a policy without statements")
		}
		_, _ = p.CheckActions(), p.ActionNotes() // classify every action entry
		// A valid policy evaluates without panicking, with or without context.
		c := &Context{}
		c.Add(KeyUsername, "alice")
		c.Add(KeyTagKeys, "a")
		c.Add(KeyTagKeys, "b")
		c.Add(KeySourceIP, "203.0.113.9")
		c.Add(KeyCurrentTime, "2025-06-01T00:00:00Z")
		set := NewSet([]*Policy{p}, []*Policy{p})
		for _, res := range []string{"*", "arn:aws:bedrock:us-east-1::foundation-model/m", "x"} {
			r1 := set.Evaluate("bedrock:InvokeModel", res, c)
			r2, _ := set.Explain("bedrock:InvokeModel", res, c)
			if r1 != r2 {
				t.Fatalf("Evaluate = %+v, Explain = %+v", r1, r2)
			}
			_ = set.Evaluate("s3:GetObject", res, nil)
		}
	})
}
