package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// opKind is the comparison of a condition operator, without its negation,
// set qualifier or IfExists suffix.
type opKind uint8

const (
	opStringEquals opKind = iota + 1
	opStringEqualsIgnoreCase
	opStringLike
	opARNLike // ArnEquals and ArnLike compare the same way in IAM
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opIPAddress
	opBinaryEquals
	opNull
)

// opSpec is one entry of the operator table.
type opSpec struct {
	kind opKind
	neg  bool
}

// operators maps lower-cased operator names (without qualifier or IfExists)
// to their comparison.
var operators = map[string]opSpec{
	"stringequals":              {opStringEquals, false},
	"stringnotequals":           {opStringEquals, true},
	"stringequalsignorecase":    {opStringEqualsIgnoreCase, false},
	"stringnotequalsignorecase": {opStringEqualsIgnoreCase, true},
	"stringlike":                {opStringLike, false},
	"stringnotlike":             {opStringLike, true},
	"arnequals":                 {opARNLike, false},
	"arnlike":                   {opARNLike, false},
	"arnnotequals":              {opARNLike, true},
	"arnnotlike":                {opARNLike, true},
	"numericequals":             {opNumericEquals, false},
	"numericnotequals":          {opNumericEquals, true},
	"numericlessthan":           {opNumericLessThan, false},
	"numericlessthanequals":     {opNumericLessThanEquals, false},
	"numericgreaterthan":        {opNumericGreaterThan, false},
	"numericgreaterthanequals":  {opNumericGreaterThanEquals, false},
	"dateequals":                {opDateEquals, false},
	"datenotequals":             {opDateEquals, true},
	"datelessthan":              {opDateLessThan, false},
	"datelessthanequals":        {opDateLessThanEquals, false},
	"dategreaterthan":           {opDateGreaterThan, false},
	"dategreaterthanequals":     {opDateGreaterThanEquals, false},
	"bool":                      {opBool, false},
	"ipaddress":                 {opIPAddress, false},
	"notipaddress":              {opIPAddress, true},
	"binaryequals":              {opBinaryEquals, false},
	"null":                      {opNull, false},
}

// setQualifier is a condition's ForAnyValue:/ForAllValues: prefix.
type setQualifier uint8

const (
	setNone setQualifier = iota
	setAnyValue
	setAllValues
)

// condition is one (operator, key) pair of a Condition block with its
// values, compiled.
type condition struct {
	operator string // as written
	key      keyRef
	kind     opKind
	neg      bool
	ifExists bool
	set      setQualifier
	hasVar   bool

	strs  []pattern      // String*, BinaryEquals
	arns  []arnPattern   // Arn*
	nums  []float64      // Numeric*
	times []time.Time    // Date*
	bools []bool         // Bool, Null
	nets  []netip.Prefix // IpAddress
}

// parseOperator splits an operator name into its parts.
func parseOperator(name string) (spec opSpec, set setQualifier, ifExists bool, err error) {
	base := name
	if q, rest, ok := strings.Cut(base, ":"); ok {
		switch strings.ToLower(q) {
		case "foranyvalue":
			set = setAnyValue
		case "forallvalues":
			set = setAllValues
		default:
			return opSpec{}, 0, false, errorf("unknown condition set operator %q (want ForAnyValue: or ForAllValues:)", q+":")
		}
		base = rest
	}
	lower := strings.ToLower(base)
	if strings.HasSuffix(lower, "ifexists") {
		ifExists = true
		lower = strings.TrimSuffix(lower, "ifexists")
	}
	spec, ok := operators[lower]
	if !ok {
		return opSpec{}, 0, false, errorf("unknown condition operator %q", name)
	}
	if spec.kind == opNull && (ifExists || set != setNone) {
		return opSpec{}, 0, false, errorf("condition operator %q: Null takes no IfExists suffix or set operator", name)
	}
	return spec, set, ifExists, nil
}

// compileCondition compiles the values of one key under one operator.
func compileCondition(operator, key string, values []string, variables bool) (condition, error) {
	spec, set, ifExists, err := parseOperator(operator)
	if err != nil {
		return condition{}, err
	}
	if !validKeyName(key) {
		return condition{}, errorf("%q is not a condition key (want service:name, e.g. aws:RequestedRegion)", key)
	}
	if err := checkSetKey(key); err != nil {
		return condition{}, err
	}
	if len(values) == 0 {
		return condition{}, errorf("no values")
	}
	c := condition{operator: operator, key: newKeyRef(key), kind: spec.kind, neg: spec.neg, ifExists: ifExists, set: set}
	for _, s := range values {
		switch c.kind {
		case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opBinaryEquals:
			o := compileOptions{
				wildcards: c.kind == opStringLike,
				variables: variables && c.kind != opBinaryEquals,
				fold:      c.kind == opStringEqualsIgnoreCase,
			}
			p, err := compilePattern(s, o)
			if err != nil {
				return condition{}, err
			}
			c.hasVar = c.hasVar || p.hasVar
			c.strs = append(c.strs, p)
		case opARNLike:
			a, err := compileARNPattern(s, compileOptions{wildcards: true, variables: variables})
			if err != nil {
				return condition{}, err
			}
			for _, seg := range a.segs {
				c.hasVar = c.hasVar || seg.hasVar
			}
			c.arns = append(c.arns, a)
		case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
			f, ok := parseNumber(s)
			if !ok {
				return condition{}, errorf("%q is not a number", s)
			}
			c.nums = append(c.nums, f)
		case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
			t, ok := parseDate(s)
			if !ok {
				return condition{}, errorf("%q is not a date (want ISO 8601, e.g. 2026-01-31T00:00:00Z, or epoch seconds)", s)
			}
			c.times = append(c.times, t)
		case opBool, opNull:
			b, ok := parseBool(s)
			if !ok {
				return condition{}, errorf("%q is not true or false", s)
			}
			c.bools = append(c.bools, b)
		case opIPAddress:
			p, ok := parseCIDR(s)
			if !ok {
				return condition{}, errorf("%q is not an IP address or CIDR block", s)
			}
			c.nets = append(c.nets, p)
		}
	}
	return c, nil
}

func parseNumber(s string) (float64, bool) {
	if s == "" || !numeric(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// numeric reports whether s has only the characters of a decimal number, so
// that ParseFloat, which allocates its error, is only called on likely
// numbers; it also keeps "Inf" and "NaN" out.
func numeric(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return false
		}
	}
	return true
}

var dateLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseDate parses the date forms IAM accepts: ISO 8601 variants and epoch
// seconds. Times without a zone are UTC.
func parseDate(s string) (time.Time, bool) {
	if s == "" {
		return time.Time{}, false
	}
	if allDigits(s) || (s[0] == '-' && len(s) > 1 && allDigits(s[1:])) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(n, 0), true
	}
	if len(s) < 10 || s[4] != '-' {
		return time.Time{}, false
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseBool(s string) (bool, bool) {
	switch {
	case equalFoldASCII(s, "true"):
		return true, true
	case equalFoldASCII(s, "false"):
		return false, true
	}
	return false, false
}

func parseCIDR(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') < 0 {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked(), true
}

// eval reports whether the condition holds in v.
//
// The rules, from the IAM documentation:
//   - A key with several context values and no set operator matches a
//     positive operator if any value matches any policy value, and a negated
//     operator if no value matches any policy value.
//   - ForAnyValue: at least one context value satisfies the operator (for
//     negated operators: matches none of the policy values); false when the
//     key is missing or has no values.
//   - ForAllValues: every context value satisfies the operator; true when the
//     key is missing or has no values.
//   - Without a set operator a missing key makes positive operators false and
//     negated operators true.
//   - …IfExists: a missing key makes the condition true; otherwise as without
//     the suffix.
//   - Null: "true" holds when the key is missing, "false" when it is present.
//   - A policy value whose variable cannot be resolved matches nothing; a
//     negated operator with such a value does not hold (it cannot be known to
//     differ).
func (c *condition) eval(v *view) bool {
	if c.kind == opNull {
		present := v.has(&c.key)
		for _, wantMissing := range c.bools {
			if wantMissing != present {
				return true
			}
		}
		return false
	}
	if c.neg && c.hasVar && !c.variablesResolve(v) {
		return false
	}
	if c.times != nil {
		if t, ok := v.time(&c.key); ok {
			return c.matchTime(t) != c.neg
		}
	}
	it := v.values(&c.key)
	val, ok := it.next()
	if !ok {
		switch {
		case c.ifExists:
			return true
		case c.set == setAnyValue:
			return false
		case c.set == setAllValues:
			return true
		}
		return c.neg
	}
	switch c.set {
	case setAnyValue:
		for ; ok; val, ok = it.next() {
			if c.match(val, v) != c.neg {
				return true
			}
		}
		return false
	case setAllValues:
		for ; ok; val, ok = it.next() {
			if c.match(val, v) == c.neg {
				return false
			}
		}
		return true
	}
	for ; ok; val, ok = it.next() {
		if c.match(val, v) {
			return !c.neg
		}
	}
	return c.neg
}

// variablesResolve reports whether every policy variable in the values can be
// resolved.
func (c *condition) variablesResolve(v *view) bool {
	check := func(p *pattern) bool {
		for i := range p.toks {
			if t := &p.toks[i]; t.kind == tokVariable {
				if _, ok := v.resolve(t.vr); !ok {
					return false
				}
			}
		}
		return true
	}
	for i := range c.strs {
		if !check(&c.strs[i]) {
			return false
		}
	}
	for i := range c.arns {
		for j := range c.arns[i].segs {
			if !check(&c.arns[i].segs[j]) {
				return false
			}
		}
	}
	return true
}

// match reports whether one context value matches any policy value under the
// positive form of the operator. A context value that cannot be read as the
// operator's type (a number, a date, an address, a boolean) matches nothing.
func (c *condition) match(val string, v *view) bool {
	switch c.kind {
	case opStringEquals, opStringEqualsIgnoreCase, opStringLike, opBinaryEquals:
		for i := range c.strs {
			if c.strs[i].match(val, v) {
				return true
			}
		}
	case opARNLike:
		for i := range c.arns {
			if c.arns[i].match(val, v) {
				return true
			}
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		f, ok := parseNumber(val)
		if !ok {
			return false
		}
		for _, n := range c.nums {
			if compareOp(c.kind, cmpFloat(f, n)) {
				return true
			}
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseDate(val)
		if !ok {
			return false
		}
		return c.matchTime(t)
	case opBool:
		b, ok := parseBool(val)
		if !ok {
			return false
		}
		for _, want := range c.bools {
			if b == want {
				return true
			}
		}
	case opIPAddress:
		a, ok := v.c.addr(val)
		if !ok {
			return false
		}
		for _, n := range c.nets {
			if n.Contains(a) {
				return true
			}
		}
	}
	return false
}

func (c *condition) matchTime(t time.Time) bool {
	for _, want := range c.times {
		if compareOp(c.kind, t.Compare(want)) {
			return true
		}
	}
	return false
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareOp applies an ordering operator to cmp(context, policy).
func compareOp(k opKind, cmp int) bool {
	switch k {
	case opNumericEquals, opDateEquals:
		return cmp == 0
	case opNumericLessThan, opDateLessThan:
		return cmp < 0
	case opNumericLessThanEquals, opDateLessThanEquals:
		return cmp <= 0
	case opNumericGreaterThan, opDateGreaterThan:
		return cmp > 0
	case opNumericGreaterThanEquals, opDateGreaterThanEquals:
		return cmp >= 0
	}
	return false
}
