package policy

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokenKind is the kind of one element of a compiled pattern.
type tokenKind uint8

const (
	tokLiteral  tokenKind = iota // text matched as is (case-folded if the pattern folds)
	tokStar                      // `*`: any run of characters, including none
	tokQuestion                  // `?`: exactly one character
	tokVariable                  // `${key}`: the key's value, matched literally
)

// token is one element of a compiled pattern.
type token struct {
	kind tokenKind
	lit  string    // tokLiteral: the text
	vr   *variable // tokVariable: the variable
}

// pattern is a compiled string pattern: a literal, a wildcard pattern, or
// either with policy variables. The zero value matches only the empty string.
type pattern struct {
	src    string  // the text as written in the policy
	toks   []token // compiled form; nil when the pattern is a single literal
	lit    string  // the literal when toks is nil
	fold   bool    // compare case-insensitively (Unicode simple folding)
	any    bool    // the pattern is exactly `*`
	hasVar bool
}

// compileOptions say how the text of a pattern is read.
type compileOptions struct {
	wildcards bool // `*` and `?` are wildcards; otherwise they are literal
	variables bool // `${...}` is a policy variable; otherwise literal
	fold      bool // match case-insensitively
}

// compilePattern compiles s. It fails only on a malformed policy variable.
func compilePattern(s string, o compileOptions) (pattern, error) {
	p := pattern{src: s, fold: o.fold}
	if o.wildcards && s == "*" {
		p.any = true
		return p, nil
	}
	var toks []token
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			toks = append(toks, token{kind: tokLiteral, lit: lit.String()})
			lit.Reset()
		}
	}
	special := false
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case o.wildcards && c == '*':
			flush()
			// Consecutive stars are one star.
			if len(toks) == 0 || toks[len(toks)-1].kind != tokStar {
				toks = append(toks, token{kind: tokStar})
			}
			special = true
			i++
		case o.wildcards && c == '?':
			flush()
			toks = append(toks, token{kind: tokQuestion})
			special = true
			i++
		case o.variables && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return pattern{}, errorf("unterminated policy variable in %q", s)
			}
			body := s[i+2 : i+2+end]
			i += 2 + end + 1
			switch body {
			case "*", "?", "$":
				lit.WriteString(body)
				special = true
				continue
			}
			v, err := parseVariable(body)
			if err != nil {
				return pattern{}, errorf("%v in %q", err, s)
			}
			flush()
			toks = append(toks, token{kind: tokVariable, vr: v})
			p.hasVar = true
			special = true
		default:
			lit.WriteByte(c)
			i++
		}
	}
	if !special {
		p.lit = s
		return p, nil
	}
	flush()
	if len(toks) == 1 && toks[0].kind == tokLiteral {
		// Only escapes: a plain literal after all.
		p.lit = toks[0].lit
		return p, nil
	}
	if toks == nil {
		// `${...}`-free pattern that reduced to nothing, e.g. "" — cannot
		// happen since special implies a token, but keep the zero form.
		return p, nil
	}
	p.toks = toks
	return p, nil
}

// maxResolved is how many variables of one pattern are resolved up front;
// further ones are resolved where they are used.
const maxResolved = 8

// match reports whether s matches the pattern. Variables are resolved in v,
// which may be nil for patterns without variables; a variable that cannot be
// resolved makes the pattern match nothing. It does not allocate.
func (p *pattern) match(s string, v *view) bool {
	if p.any {
		return true
	}
	if p.toks == nil {
		if p.fold {
			return strings.EqualFold(p.lit, s)
		}
		return p.lit == s
	}
	var resolved [maxResolved]string
	if p.hasVar {
		n := 0
		for i := range p.toks {
			t := &p.toks[i]
			if t.kind != tokVariable {
				continue
			}
			val, ok := v.resolve(t.vr)
			if !ok {
				return false
			}
			if n < maxResolved {
				resolved[n] = val
			}
			n++
		}
	}
	return p.matchTokens(s, v, &resolved)
}

// matchTokens runs the glob algorithm: greedy matching that, on a mismatch,
// backtracks only to the most recent star and lets it absorb one more
// character. Literal tokens are compared whole. The worst case is
// O(len(s)·len(pattern)); patterns come from policies and are short, so
// this is linear in the request's value.
func (p *pattern) matchTokens(s string, v *view, resolved *[maxResolved]string) bool {
	toks := p.toks
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case tokStar:
				if ti == len(toks)-1 {
					return true // a trailing star absorbs the rest
				}
				starTi, starSi = ti, si
				ti++
				continue
			case tokQuestion:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case tokLiteral, tokVariable:
				lit := t.lit
				if t.kind == tokVariable {
					lit = p.variableValue(ti, v, resolved)
				}
				if n, ok := hasPrefix(s[si:], lit, p.fold); ok {
					si += n
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		// Mismatch: let the last star absorb one more character.
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		ti, si = starTi+1, starSi
	}
}

// variableValue returns the value of the variable at toks[ti], which match
// already resolved successfully.
func (p *pattern) variableValue(ti int, v *view, resolved *[maxResolved]string) string {
	n := 0
	for i := 0; i < ti; i++ {
		if p.toks[i].kind == tokVariable {
			n++
		}
	}
	if n < maxResolved {
		return resolved[n]
	}
	val, _ := v.resolve(p.toks[ti].vr)
	return val
}

// hasPrefix reports whether s begins with prefix, comparing with Unicode
// simple case folding if fold is set, and returns how many bytes of s the
// prefix covered.
func hasPrefix(s, prefix string, fold bool) (int, bool) {
	if !fold {
		if strings.HasPrefix(s, prefix) {
			return len(prefix), true
		}
		return 0, false
	}
	i, j := 0, 0
	for j < len(prefix) {
		if i >= len(s) {
			return 0, false
		}
		a, b := s[i], prefix[j]
		if a < utf8.RuneSelf && b < utf8.RuneSelf {
			if a != b && lowerASCII(a) != lowerASCII(b) {
				return 0, false
			}
			i++
			j++
			continue
		}
		ra, na := utf8.DecodeRuneInString(s[i:])
		rb, nb := utf8.DecodeRuneInString(prefix[j:])
		if !equalFoldRune(ra, rb) {
			return 0, false
		}
		i += na
		j += nb
	}
	return i, true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFoldRune reports whether a and b are equal under simple case folding,
// as strings.EqualFold compares runes.
func equalFoldRune(a, b rune) bool {
	if a == b {
		return true
	}
	if a > b {
		a, b = b, a
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// SameKey reports whether a and b name the same context key, as the
// evaluator matches key names: equal ignoring ASCII case.
func SameKey(a, b string) bool { return equalFoldASCII(a, b) }

// equalFoldASCII reports whether a and b are equal ignoring ASCII case; it is
// the comparison for context key names, which are ASCII.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x != y && lowerASCII(x) != lowerASCII(y) {
			return false
		}
	}
	return true
}

// arnPattern matches ARNs segment by segment, as IAM does for Resource and
// the Arn condition operators: the first five colons split both the pattern
// and the ARN into six segments and a wildcard stays within its segment. A
// pattern with fewer segments matches its last segment against the rest of
// the ARN, so `arn:aws:bedrock:*` covers every Bedrock ARN (IAM's rule that
// a trailing `*` expands past colon boundaries).
type arnPattern struct {
	src  string
	any  bool      // exactly `*`
	segs []pattern // 1 to 6 segments
}

// arnSegments is the number of colon-separated segments of an ARN; the last
// one (the resource) may itself contain colons.
const arnSegments = 6

func compileARNPattern(s string, o compileOptions) (arnPattern, error) {
	a := arnPattern{src: s}
	if o.wildcards && s == "*" {
		a.any = true
		return a, nil
	}
	parts := splitARN(s, o.variables)
	a.segs = make([]pattern, len(parts))
	for i, part := range parts {
		p, err := compilePattern(part, o)
		if err != nil {
			return arnPattern{}, err
		}
		a.segs[i] = p
	}
	return a, nil
}

// match reports whether arn matches. It does not allocate.
func (a *arnPattern) match(arn string, v *view) bool {
	if a.any {
		return true
	}
	parts := splitParts(arn)
	return a.matchParts(&parts, v)
}

// arnParts is an ARN split at its first five colons, computed once per
// evaluation so that each Resource pattern compares segments without
// searching the ARN again.
type arnParts struct {
	s      string
	colons int                  // colons found, at most arnSegments-1
	at     [arnSegments - 1]int // their offsets
}

func splitParts(s string) arnParts {
	p := arnParts{s: s}
	// One pass over the short prefix of the ARN; cheaper than repeated
	// IndexByte calls on these lengths.
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			p.at[p.colons] = i
			p.colons++
			if p.colons == arnSegments-1 {
				break
			}
		}
	}
	return p
}

// segment returns segment i; i must be at most p.colons-1.
func (p *arnParts) segment(i int) string {
	start := 0
	if i > 0 {
		start = p.at[i-1] + 1
	}
	return p.s[start:p.at[i]]
}

// rest returns everything from segment i on; i must be at most p.colons.
func (p *arnParts) rest(i int) string {
	if i == 0 {
		return p.s
	}
	return p.s[p.at[i-1]+1:]
}

func (a *arnPattern) matchParts(parts *arnParts, v *view) bool {
	if a.any {
		return true
	}
	last := len(a.segs) - 1
	if parts.colons < last {
		return false
	}
	for i := 0; i < last; i++ {
		if seg := &a.segs[i]; !seg.any && !seg.match(parts.segment(i), v) {
			return false
		}
	}
	return a.segs[last].match(parts.rest(last), v)
}

// splitARN splits s at its first five colons, ignoring colons inside policy
// variables such as `${aws:username}` when variables are recognised.
func splitARN(s string, variables bool) []string {
	parts := make([]string, 0, arnSegments)
	start := 0
	for i := 0; i < len(s) && len(parts) < arnSegments-1; i++ {
		switch {
		case variables && s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				// No variable can close: stop looking, so that a run of
				// "${" costs linear time, not quadratic.
				variables = false
				continue
			}
			i += end
		case s[i] == ':':
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}
