package policy

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPatternMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		pattern string
		opts    compileOptions
		input   string
		want    bool
	}{
		{"literal", "bedrock:InvokeModel", compileOptions{wildcards: true}, "bedrock:InvokeModel", true},
		{"literal case-sensitive", "bedrock:InvokeModel", compileOptions{wildcards: true}, "bedrock:invokemodel", false},
		{"literal folded", "bedrock:InvokeModel", compileOptions{wildcards: true, fold: true}, "BEDROCK:invokemodel", true},
		{"star all", "*", compileOptions{wildcards: true}, "", true},
		{"star suffix", "bedrock:InvokeModel*", compileOptions{wildcards: true, fold: true}, "bedrock:invokemodelwithresponsestream", true},
		{"star suffix exact", "bedrock:InvokeModel*", compileOptions{wildcards: true, fold: true}, "bedrock:InvokeModel", true},
		{"star middle", "bedrock:*Profile", compileOptions{wildcards: true, fold: true}, "bedrock:GetInferenceProfile", true},
		{"star middle no", "bedrock:*Profile", compileOptions{wildcards: true, fold: true}, "bedrock:GetInferenceProfiles", false},
		{"question", "eu-?", compileOptions{wildcards: true}, "eu-x", true},
		{"question needs one", "eu-?", compileOptions{wildcards: true}, "eu-", false},
		{"question one rune", "?", compileOptions{wildcards: true}, "é", true},
		{"backtracking", "*a*b", compileOptions{wildcards: true}, "xaybzab", true},
		{"backtracking no", "*a*b", compileOptions{wildcards: true}, "xaybzac", false},
		{"star not literal when wildcards off", "a*", compileOptions{}, "abc", false},
		{"star literal when wildcards off", "a*", compileOptions{}, "a*", true},
		{"escape star", "a${*}", compileOptions{wildcards: true, variables: true}, "a*", true},
		{"escape star is literal", "a${*}", compileOptions{wildcards: true, variables: true}, "ab", false},
		{"escape question", "${?}", compileOptions{wildcards: true, variables: true}, "?", true},
		{"escape dollar", "${$}{x}", compileOptions{wildcards: true, variables: true}, "${x}", true},
		{"variables off keep text", "${aws:username}", compileOptions{wildcards: true}, "${aws:username}", true},
		{"fold unicode", "straße", compileOptions{fold: true}, "STRAßE", true},
		{"fold kelvin", "k", compileOptions{fold: true}, "\u212a", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := compilePattern(tc.pattern, tc.opts)
			if err != nil {
				t.Fatalf("compilePattern(%q): %v", tc.pattern, err)
			}
			if got := p.match(tc.input, nil); got != tc.want {
				t.Errorf("pattern %q match(%q) = %v, want %v", tc.pattern, tc.input, got, tc.want)
			}
		})
	}
}

func TestPatternVariables(t *testing.T) {
	t.Parallel()
	c := &Context{}
	c.Add(KeyUsername, "alice")
	c.Add("aws:PrincipalTag/team", "claims")
	c.Add(KeyTagKeys, "a")
	c.Add(KeyTagKeys, "b")
	v := &view{c: c}
	tests := []struct {
		pattern, input string
		want           bool
	}{
		{"home/${aws:username}/*", "home/alice/x", true},
		{"home/${aws:username}/*", "home/bob/x", false},
		{"home/${AWS:UserName}/*", "home/alice/x", true}, // key names are case-insensitive
		{"${aws:PrincipalTag/team}-*", "claims-eu", true},
		{"${aws:principaltag/TEAM}", "claims", true},
		{"${aws:userid}", "", false},                // missing key: unresolvable
		{"*${aws:userid}*", "anything", false},      // still unresolvable
		{"${aws:TagKeys}", "a", false},              // multi-valued: unresolvable
		{"${aws:userid, 'nobody'}", "nobody", true}, // default value
		{"${aws:username,'nobody'}", "alice", true}, // default unused
		{"${aws:username}${*}", "alice*", true},     // variable then escape
		{"a*${aws:username}", "aaliceXalice", true}, // backtracking across a variable
		{"${aws:username}", "ALICE", false},         // substitution is case-sensitive
	}
	for _, tc := range tests {
		p, err := compilePattern(tc.pattern, compileOptions{wildcards: true, variables: true})
		if err != nil {
			t.Fatalf("compilePattern(%q): %v", tc.pattern, err)
		}
		if got := p.match(tc.input, v); got != tc.want {
			t.Errorf("pattern %q match(%q) = %v, want %v", tc.pattern, tc.input, got, tc.want)
		}
	}
}

func TestPatternErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"${aws:username", "${}", "${username}", "${aws:x, nobody}"} {
		if _, err := compilePattern(s, compileOptions{wildcards: true, variables: true}); err == nil {
			t.Errorf("compilePattern(%q) = nil error, want an error", s)
		}
	}
}

func TestARNPatternMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, arn string
		want         bool
	}{
		{"*", "anything", true},
		{"arn:aws:bedrock:eu-*:111122223333:inference-profile/eu.*", "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small", true},
		{"arn:aws:bedrock:eu-*:111122223333:inference-profile/eu.*", "arn:aws:bedrock:us-east-1:111122223333:inference-profile/eu.demo.chat-small", false},
		{"arn:aws:bedrock:eu-*::foundation-model/*", "arn:aws:bedrock:eu-central-1::foundation-model/demo.chat-small", true},
		{"arn:aws:bedrock:*::foundation-model/*", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", true},
		// A wildcard stays inside its segment…
		{"arn:aws:bedrock:*:foundation-model/*", "arn:aws:bedrock:us-east-1::foundation-model/x", false},
		// …except a trailing one, which covers the rest of the ARN.
		{"arn:aws:bedrock:*", "arn:aws:bedrock:us-east-1::foundation-model/x", true},
		{"arn:aws:bedrock:us-east-1:*", "arn:aws:bedrock:us-east-1:111122223333:inference-profile/x", true},
		// Resource ARNs are case-sensitive.
		{"arn:aws:bedrock:*::foundation-model/Demo*", "arn:aws:bedrock:us-east-1::foundation-model/demo.x", false},
		{"arn:aws:bedrock:us-east-?::foundation-model/*", "arn:aws:bedrock:us-east-1::foundation-model/x", true},
		{"arn:aws:bedrock:us-east-?::foundation-model/*", "arn:aws:bedrock:us-east-10::foundation-model/x", false},
		{"arn:aws:bedrock:us-east-1::foundation-model/x", "arn:aws:bedrock:us-east-1::foundation-model/x", true},
		{"arn:aws:bedrock:us-east-1::foundation-model/x", "arn:aws:bedrock:us-east-1", false},
		{"arn:aws:bedrock:us-east-1::foundation-model/x", "not an arn", false},
	}
	for _, tc := range tests {
		a, err := compileARNPattern(tc.pattern, compileOptions{wildcards: true, variables: true})
		if err != nil {
			t.Fatalf("compileARNPattern(%q): %v", tc.pattern, err)
		}
		if got := a.match(tc.arn, nil); got != tc.want {
			t.Errorf("ARN pattern %q match(%q) = %v, want %v", tc.pattern, tc.arn, got, tc.want)
		}
	}
}

func TestARNPatternVariableWithColon(t *testing.T) {
	t.Parallel()
	c := &Context{}
	c.Add(KeyRequestedRegion, "eu-west-1")
	a, err := compileARNPattern("arn:aws:bedrock:${aws:RequestedRegion}::foundation-model/*", compileOptions{wildcards: true, variables: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.segs) != arnSegments {
		t.Fatalf("segments = %d, want %d (the colon inside ${…} must not split)", len(a.segs), arnSegments)
	}
	for arn, want := range map[string]bool{
		"arn:aws:bedrock:eu-west-1::foundation-model/m": true,
		"arn:aws:bedrock:us-east-1::foundation-model/m": false,
	} {
		if got := a.match(arn, &view{c: c}); got != want {
			t.Errorf("match(%q) = %v, want %v", arn, got, want)
		}
	}
}

// globRegexp is the reference matcher for FuzzMatch: the pattern translated
// to an anchored regular expression.
func globRegexp(pattern string, fold bool) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^(?s")
	if fold {
		b.WriteString("i")
	}
	b.WriteString(")")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(".*")
		case '?':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func FuzzMatch(f *testing.F) {
	seeds := []struct{ pattern, input string }{
		{"*", ""},
		{"bedrock:InvokeModel*", "bedrock:InvokeModelWithResponseStream"},
		{"bedrock:*Profile?", "bedrock:GetInferenceProfiles"},
		{"arn:aws:bedrock:eu-*:111122223333:inference-profile/eu.*", "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"},
		{"arn:aws:bedrock:*::foundation-model/*", "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"},
		{"*a*b*c", "aabbcc"},
		{"???", "héé"},
		{"a**b", "ab"},
	}
	for _, s := range seeds {
		f.Add(s.pattern, s.input, false)
		f.Add(s.pattern, s.input, true)
	}
	f.Fuzz(func(t *testing.T, pattern, input string, fold bool) {
		// Matching is O(len(pattern)·len(input)); policies hold short
		// patterns, so keep the fuzzer to realistic sizes.
		if len(pattern) > 512 || len(input) > 4096 {
			t.Skip()
		}
		p, err := compilePattern(pattern, compileOptions{wildcards: true, fold: fold})
		if err != nil {
			t.Fatalf("compilePattern(%q) without variables failed: %v", pattern, err)
		}
		got := p.match(input, nil)

		// `*` matches everything.
		star, _ := compilePattern("*", compileOptions{wildcards: true, fold: fold})
		if !star.match(input, nil) {
			t.Fatalf("* did not match %q", input)
		}
		if !strings.ContainsAny(pattern, "*?") {
			// Without wildcards a pattern matches exactly itself.
			if !p.match(pattern, nil) {
				t.Fatalf("literal %q does not match itself", pattern)
			}
			if !fold && got != (pattern == input) {
				t.Fatalf("literal %q match(%q) = %v", pattern, input, got)
			}
			if p.match(pattern+"x", nil) {
				t.Fatalf("literal %q matches %q", pattern, pattern+"x")
			}
		}
		// Prefix* matches every extension of the prefix. (Folding compares
		// runes, so with invalid UTF-8 the prefix and the extension can
		// decode differently: "\xc8" + "\xab" is the rune U+022B.)
		prefix := strings.NewReplacer("*", "", "?", "").Replace(pattern)
		if !fold || (utf8.ValidString(prefix) && utf8.ValidString(input)) {
			pre, _ := compilePattern(prefix+"*", compileOptions{wildcards: true, fold: fold})
			if !pre.match(prefix+input, nil) {
				t.Fatalf("pattern %q does not match %q", prefix+"*", prefix+input)
			}
		}
		// Agrees with a regular-expression reference on valid UTF-8. (With
		// folding, regexp's (?i) and simple folding agree rune by rune.)
		if utf8.ValidString(pattern) && utf8.ValidString(input) && len(pattern) < 64 && len(input) < 256 {
			if want := globRegexp(pattern, fold).MatchString(input); got != want {
				t.Fatalf("pattern %q (fold %v) match(%q) = %v, reference says %v", pattern, fold, input, got, want)
			}
		}
		// ARN patterns never panic and `*` matches all.
		a, _ := compileARNPattern(pattern, compileOptions{wildcards: true})
		_ = a.match(input, nil)
	})
}
