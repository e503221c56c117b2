package policy

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCheckJSON(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string // want: "" for no error, else a substring
	}{
		{"valid", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, ""},
		{"duplicate condition operator", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},
 {"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{
  "StringEquals":{"aws:RequestedRegion":["eu-west-1"]},
  "StringEquals":{"aws:PrincipalTag/team":"claims"}}}]}`, `Statement[1].Condition.StringEquals: duplicate key "StringEquals" at line 4, column`},
		{"duplicate top level", `{"Statement":[],"Statement":[]}`, `Statement: duplicate key "Statement"`},
		{"duplicate condition key", `{"Statement":{"Condition":{"StringEquals":{"aws:username":"a","aws:username":"b"}}}}`, `Statement.Condition.StringEquals.aws:username: duplicate key`},
		{"duplicate in nested array", `{"Statement":[{"Action":["a"]},{"Effect":"Allow","Effect":"Deny"}]}`, `Statement[1].Effect: duplicate key`},
		{"same key in sibling objects", `{"Statement":[{"Effect":"Allow"},{"Effect":"Deny"}]}`, ""},
		{"syntax error position", "{\n  \"Statement\": [\n    {\"Effect\": \"Allow\",}\n  ]\n}", "line 3, column"},
		{"truncated", `{"Statement":[`, "not valid JSON at line 1"},
		{"trailing data", `{"Statement":[]} {}`, "extra data"},
		{"empty", ``, "not valid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckJSON([]byte(tc.doc))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckJSON: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("CheckJSON = %v, want an ErrInvalidPolicy containing %q", err, tc.want)
			}
		})
	}
}

// TestParseRefusesDuplicateKeys is the trial's dupallow.json: the region
// condition must not be dropped.
func TestParseRefusesDuplicateKeys(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Sid":"EUClaimsOnly","Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{
  "StringEquals":{"aws:RequestedRegion":["eu-west-1","eu-central-1"]},
  "StringEquals":{"aws:PrincipalTag/team":"claims"}}}]}`
	_, err := Parse("dup", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "Statement[0].Condition.StringEquals") {
		t.Fatalf("Parse = %v, want a duplicate-key error naming Statement[0].Condition.StringEquals", err)
	}
}

// FuzzCheckJSON checks that CheckJSON never panics, accepts exactly the
// documents encoding/json accepts when it reports no duplicate, and never
// accepts invalid JSON.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{
		`{"Statement":[{"Effect":"Allow","Effect":"Deny"}]}`,
		`{"a":{"b":[1,{"c":2,"c":3}]}}`,
		`[]`, `"x"`, `{}`, `{"a":1} x`, `{"a":`, `{"a":[}`, "{\n\"a\":1,\n}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := CheckJSON(doc)
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("CheckJSON error %v does not match ErrInvalidPolicy", err)
			}
			return
		}
		if !json.Valid(doc) {
			t.Fatalf("CheckJSON accepted invalid JSON %q", doc)
		}
	})
}
