package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// ErrSyntax reports malformed JSON found while scanning.
var ErrSyntax = errors.New("jsonx: malformed JSON")

// maxDepth bounds nesting so a hostile body cannot exhaust the stack.
const maxDepth = 512

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at data[i] == '"'.
// It finds the closing quote with bytes.IndexByte (fast over long base64
// strings) and does not look inside: escapes and control characters are
// left to the decoder.
func skipString(data []byte, i int) (int, error) {
	i++
	for {
		j := bytes.IndexByte(data[i:], '"')
		if j < 0 {
			return 0, ErrSyntax
		}
		end := i + j
		// The quote is escaped when an odd number of backslashes precede it.
		k := end - 1
		for k >= i && data[k] == '\\' {
			k--
		}
		if (end-1-k)%2 == 0 {
			return end + 1, nil
		}
		i = end + 1
	}
}

// skipValue returns the index just past the value starting at data[i].
func skipValue(data []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("%w: nesting deeper than %d", ErrSyntax, maxDepth)
	}
	i = skipSpace(data, i)
	if i >= len(data) {
		return 0, ErrSyntax
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		closer := byte('}')
		if data[i] == '[' {
			closer = ']'
		}
		obj := data[i] == '{'
		i = skipSpace(data, i+1)
		if i < len(data) && data[i] == closer {
			return i + 1, nil
		}
		for {
			var err error
			if obj {
				i = skipSpace(data, i)
				if i >= len(data) || data[i] != '"' {
					return 0, ErrSyntax
				}
				if i, err = skipString(data, i); err != nil {
					return 0, err
				}
				i = skipSpace(data, i)
				if i >= len(data) || data[i] != ':' {
					return 0, ErrSyntax
				}
				i++
			}
			if i, err = skipValue(data, i, depth+1); err != nil {
				return 0, err
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return 0, ErrSyntax
			}
			if data[i] == closer {
				return i + 1, nil
			}
			if data[i] != ',' {
				return 0, ErrSyntax
			}
			i++
		}
	default:
		j := i
		for j < len(data) {
			c := data[j]
			if c == ',' || c == '}' || c == ']' || isSpace(c) {
				break
			}
			j++
		}
		if j == i {
			return 0, ErrSyntax
		}
		return j, nil
	}
}

// Members calls fn with the raw key (quotes included, escapes unresolved) and
// raw value of each member of the JSON object data, in document order, without
// allocating. It stops at the first error fn returns and returns it. Members
// checks the structure it walks over (nesting, separators, string ends) but
// not the contents of strings or the format of numbers; a decoder does.
func Members(data []byte, fn func(key, value []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return ErrNotObject
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		if skipSpace(data, i+1) != len(data) {
			return ErrSyntax
		}
		return nil
	}
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != '"' {
			return ErrSyntax
		}
		ks := i
		ke, err := skipString(data, i)
		if err != nil {
			return err
		}
		i = skipSpace(data, ke)
		if i >= len(data) || data[i] != ':' {
			return ErrSyntax
		}
		vs := skipSpace(data, i+1)
		ve, err := skipValue(data, vs, 1)
		if err != nil {
			return err
		}
		if err := fn(data[ks:ke], data[vs:ve]); err != nil {
			return err
		}
		i = skipSpace(data, ve)
		if i >= len(data) {
			return ErrSyntax
		}
		if data[i] == '}' {
			if skipSpace(data, i+1) != len(data) {
				return ErrSyntax
			}
			return nil
		}
		if data[i] != ',' {
			return ErrSyntax
		}
		i++
	}
}

// Elements calls fn with the raw bytes of each element of the JSON array data.
func Elements(data []byte, fn func(value []byte) error) error {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return fmt.Errorf("%w: not an array", ErrSyntax)
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return nil
	}
	for {
		vs := skipSpace(data, i)
		ve, err := skipValue(data, vs, 1)
		if err != nil {
			return err
		}
		if err := fn(data[vs:ve]); err != nil {
			return err
		}
		i = skipSpace(data, ve)
		if i >= len(data) {
			return ErrSyntax
		}
		if data[i] == ']' {
			return nil
		}
		if data[i] != ',' {
			return ErrSyntax
		}
		i++
	}
}

// Walk calls fn with the raw key and value of every object member at any
// depth of data, in document order, in one pass and without allocating.
// Keys are as Members gives them. A scalar value is given whole; for an
// object or array value only its first byte ("{" or "[") is given, and its
// members follow in later calls. Walk checks nesting and separators but,
// unlike Members, not every detail of the syntax.
func Walk(data []byte, fn func(key, value []byte) error) error {
	var stack [maxDepth]bool // true: object
	depth := 0
	expectKey := false
	i := 0
	for {
		i = skipSpace(data, i)
		if i >= len(data) {
			if depth != 0 {
				return ErrSyntax
			}
			return nil
		}
		switch c := data[i]; c {
		case '{', '[':
			if depth == maxDepth {
				return fmt.Errorf("%w: nesting deeper than %d", ErrSyntax, maxDepth)
			}
			stack[depth] = c == '{'
			depth++
			expectKey = c == '{'
			i++
		case '}', ']':
			if depth == 0 || stack[depth-1] != (c == '}') {
				return ErrSyntax
			}
			depth--
			expectKey = false
			i++
		case ',':
			if depth == 0 {
				return ErrSyntax
			}
			expectKey = stack[depth-1]
			i++
		case '"':
			end, err := skipString(data, i)
			if err != nil {
				return err
			}
			if !expectKey {
				i = end
				continue
			}
			key := data[i:end]
			j := skipSpace(data, end)
			if j >= len(data) || data[j] != ':' {
				return ErrSyntax
			}
			vs := skipSpace(data, j+1)
			if vs >= len(data) {
				return ErrSyntax
			}
			expectKey = false
			if data[vs] == '{' || data[vs] == '[' {
				if err := fn(key, data[vs:vs+1]); err != nil {
					return err
				}
				i = vs
				continue
			}
			ve, err := skipValue(data, vs, depth)
			if err != nil {
				return err
			}
			if err := fn(key, data[vs:ve]); err != nil {
				return err
			}
			i = ve
		default:
			if expectKey || depth == 0 {
				return ErrSyntax
			}
			ve, err := skipValue(data, i, depth)
			if err != nil {
				return err
			}
			i = ve
		}
	}
}

// KeyIs reports whether the raw key (as Members gives it) names want. Escaped
// keys are resolved, so "\u006dodel" names "model", as a full decode sees it.
func KeyIs(raw []byte, want string) bool {
	if len(raw) < 2 {
		return false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			k, err := Key(raw)
			return err == nil && k == want
		}
	}
	return string(inner) == want
}

// Key decodes a raw key (quotes included).
func Key(raw []byte) (string, error) {
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' {
			var s string
			err := json.Unmarshal(raw, &s)
			return s, err
		}
	}
	return string(raw[1 : len(raw)-1]), nil
}

// String decodes a raw JSON string value. ok is false for any other value.
func String(raw []byte) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' || c >= utf8.RuneSelf {
			// Escapes and non-ASCII (possibly invalid UTF-8, which a
			// decoder replaces) take the decoder's path.
			if json.Unmarshal(raw, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return string(inner), true
}

// StringIs reports whether raw is a JSON string equal to want, without allocating
// when raw has no escapes.
func StringIs(raw []byte, want string) bool {
	if len(raw) < 2 || raw[0] != '"' {
		return false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c == '\\' {
			s, ok := String(raw)
			return ok && s == want
		}
	}
	return string(inner) == want
}

// Int parses a raw JSON integer. ok is false for anything else, including
// fractions, exponents and values that overflow int64.
func Int(raw []byte) (n int64, ok bool) {
	if len(raw) == 0 {
		return 0, false
	}
	neg := raw[0] == '-'
	digits := raw
	if neg {
		digits = raw[1:]
	}
	if len(digits) == 0 {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (1<<63-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, true
}

// IsTrue reports whether raw is the JSON literal true.
func IsTrue(raw []byte) bool { return string(raw) == "true" }

// IsNull reports whether raw is the JSON literal null or empty.
func IsNull(raw []byte) bool { return len(raw) == 0 || string(raw) == "null" }

// Ambiguous returns the first of names (in names' order) that the object
// data names more than once in any spelling (escapes resolved, case
// folded, as encoding/json matches a member to a field), with twice set,
// or once but not exactly as named (an escape, another case), with twice
// false; "" when each is named at most once, exactly. A reader that takes
// one copy and an editor or upstream that takes another would disagree on
// such a member, so a body Meridian reads or edits it in is refused by
// name instead. Every name is checked, however many: up to 16 names it
// allocates only for keys written with escapes, past that once more for
// its tallies. Its cost is one scan of data and, per member, one
// comparison with each name (linear in the body for a given list; the
// names come from Meridian, the body from the caller). Data that is not an
// object names nothing.
func Ambiguous(data []byte, names ...string) (name string, twice bool) {
	var seenBuf [16]uint8
	var oddBuf [16]bool
	seen, odd := seenBuf[:], oddBuf[:]
	if len(names) > len(seenBuf) {
		seen, odd = make([]uint8, len(names)), make([]bool, len(names))
	}
	_ = Members(data, func(k, _ []byte) error {
		if len(k) < 2 {
			return nil
		}
		inner := k[1 : len(k)-1]
		escaped := bytes.IndexByte(inner, '\\') >= 0
		if escaped {
			s, err := Key(k)
			if err != nil {
				return nil
			}
			inner = []byte(s)
		}
		for i, n := range names {
			if bytes.EqualFold(inner, []byte(n)) {
				if seen[i] < 2 {
					seen[i]++
				}
				odd[i] = odd[i] || escaped || string(inner) != n
			}
		}
		return nil
	})
	for i, n := range names {
		switch {
		case seen[i] > 1:
			return n, true
		case odd[i]:
			return n, false
		}
	}
	return "", false
}

// AmbiguousError reports a member named more than once or not exactly as
// named (see Ambiguous). Its message holds the member's name only.
type AmbiguousError struct {
	Member string
	Twice  bool
}

func (e *AmbiguousError) Error() string {
	if e.Twice {
		return e.Member + " is named more than once; send it once"
	}
	return e.Member + " is named with an escape or in another case; send it as " + strconv.Quote(e.Member)
}

// CheckAmbiguous is Ambiguous as an error: an *AmbiguousError, or nil.
func CheckAmbiguous(data []byte, names ...string) error {
	if name, twice := Ambiguous(data, names...); name != "" {
		return &AmbiguousError{Member: name, Twice: twice}
	}
	return nil
}
