package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Policy versions IAM accepts.
const (
	// Version2012 is the current policy language; policy variables are
	// recognised only in it.
	Version2012 = "2012-10-17"
	// Version2008 is the old policy language, also assumed when a document
	// has no Version; `${...}` is literal text in it.
	Version2008 = "2008-10-17"
)

// Policy is a compiled policy document. It is immutable and safe for
// concurrent use.
type Policy struct {
	name       string
	version    string
	statements []statement
}

// statement is one compiled statement.
type statement struct {
	ref       StatementRef
	effect    Effect
	notAction bool
	actions   []pattern
	// actionSrc is each entry of actions as written, with its element
	// path ("Action[1]"), for CheckActions.
	actionSrc []actionSource
	// knownActions has bit i set when actions match knownActions[i]
	// (before NotAction is applied).
	knownActions uint16
	notResource  bool
	resources    []arnPattern
	conditions   []condition
}

// StatementRef identifies a statement for explanations and audit events.
type StatementRef struct {
	// Policy is the name of the policy that holds the statement.
	Policy string `json:"policy"`
	// Sid is the statement's Sid, empty if it has none.
	Sid string `json:"sid,omitempty"`
	// Index is the statement's position in the policy's Statement array.
	Index int `json:"index"`
	// Guardrail is true when the policy is a guardrail rather than an
	// identity policy.
	Guardrail bool `json:"guardrail,omitempty"`
}

// String formats the reference as policy/Sid, or policy/#index without a
// Sid, prefixed with "guardrail " for guardrails; the zero StatementRef is
// "none".
func (r StatementRef) String() string {
	if r == (StatementRef{}) {
		return "none"
	}
	kind := ""
	if r.Guardrail {
		kind = "guardrail "
	}
	if r.Sid != "" {
		return fmt.Sprintf("%s%s/%s", kind, r.Policy, r.Sid)
	}
	return fmt.Sprintf("%s%s/#%d", kind, r.Policy, r.Index)
}

// Name returns the name the policy was parsed with.
func (p *Policy) Name() string { return p.name }

// Version returns the policy's Version element, or Version2008 if it had none.
func (p *Policy) Version() string { return p.version }

// Len returns the number of statements.
func (p *Policy) Len() int { return len(p.statements) }

// Parse parses and compiles a JSON policy document. name identifies the
// policy in explanations; it does not appear in errors (see [ParseError]).
// Every problem is reported, joined with errors.Join; each is a
// [*ParseError] matching [ErrInvalidPolicy].
func Parse(name string, doc []byte) (*Policy, error) {
	if err := CheckJSON(doc); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, jsonError(doc, dec, err)
	}
	return FromValue(name, v)
}

// MustParse is like [Parse] but panics on error. It is for tests and
// package-level variables.
func MustParse(name string, doc string) *Policy {
	p, err := Parse(name, []byte(doc))
	if err != nil {
		panic(fmt.Sprintf("policy: MustParse(%q): %v", name, err))
	}
	return p
}

// FromValue compiles a policy document that was already decoded, from JSON
// (map[string]any, []any, string, json.Number, float64, bool) or from YAML
// (which also yields int, int64, uint64 and map[any]any), so that policies
// written inline in the YAML config need no re-encoding. Errors are as for
// [Parse].
func FromValue(name string, doc any) (*Policy, error) {
	m, ok := asObject(doc)
	if !ok {
		return nil, &ParseError{Statement: -1, Msg: fmt.Sprintf("policy document must be a JSON object, not %s", kindOf(doc))}
	}
	p := &Policy{name: name, version: Version2008}
	var errs []error
	docErr := func(field, format string, args ...any) {
		errs = append(errs, &ParseError{Statement: -1, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	var stmts []any
	haveStatement := false
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		switch k {
		case "Version":
			s, ok := val.(string)
			if !ok || (s != Version2012 && s != Version2008) {
				docErr("Version", "%s is not a policy version (want %q, the current language, or %q, in which policy variables are literal text)", show(val), Version2012, Version2008)
				continue
			}
			p.version = s
		case "Id":
			if _, ok := val.(string); !ok {
				docErr("Id", "must be a string, not %s", kindOf(val))
			}
		case "Statement":
			haveStatement = true
			switch s := val.(type) {
			case []any:
				stmts = s
			default:
				if _, ok := asObject(val); !ok {
					docErr("Statement", "must be an object or an array of objects, not %s", kindOf(val))
					continue
				}
				stmts = []any{val}
			}
		default:
			docErr(k, "unknown policy element (want Version, Id or Statement)")
		}
	}
	if !haveStatement {
		docErr("Statement", "missing")
	}
	if haveStatement && stmts != nil && len(stmts) == 0 {
		docErr("Statement", "empty")
	}
	variables := p.version == Version2012
	sids := map[string]int{}
	for i, raw := range stmts {
		st, serrs := compileStatement(name, i, raw, variables)
		if st.ref.Sid != "" {
			if j, dup := sids[st.ref.Sid]; dup {
				serrs = append(serrs, &ParseError{Statement: i, Sid: st.ref.Sid, Field: "Sid", Msg: fmt.Sprintf("duplicate Sid (also Statement[%d])", j)})
			}
			sids[st.ref.Sid] = i
		}
		errs = append(errs, serrs...)
		p.statements = append(p.statements, st)
	}
	if len(errs) > 0 {
		// Report every problem at once: a misspelt action would otherwise
		// surface only after the other errors are fixed (CheckActions runs
		// on a compiled policy).
		p.eachAction(func(i int, st *statement, src actionSource, class ActionClass, msg string) {
			if class == ActionUnknown {
				errs = append(errs, &ParseError{Statement: i, Sid: st.ref.Sid, Field: src.field, Msg: msg})
			}
		})
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// compileStatement compiles the statement at index i.
func compileStatement(policy string, i int, raw any, variables bool) (statement, []error) {
	st := statement{ref: StatementRef{Policy: policy, Index: i}}
	m, ok := asObject(raw)
	if !ok {
		return st, []error{&ParseError{Statement: i, Msg: fmt.Sprintf("statement must be an object, not %s", kindOf(raw))}}
	}
	if sid, ok := m["Sid"].(string); ok {
		st.ref.Sid = sid
	}
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, &ParseError{Statement: i, Sid: st.ref.Sid, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	var actionKey, resourceKey string
	var resSrc []actionSource // Resource/NotResource entries, for lintResource
	for _, k := range slices.Sorted(maps.Keys(m)) {
		val := m[k]
		switch k {
		case "Sid":
			if _, ok := val.(string); !ok {
				fail("Sid", "must be a string, not %s", kindOf(val))
			}
		case "Effect":
			switch val {
			case "Allow":
				st.effect = EffectAllow
			case "Deny":
				st.effect = EffectDeny
			default:
				fail("Effect", "%s is not \"Allow\" or \"Deny\"", show(val))
			}
		case "Action", "NotAction":
			if actionKey != "" {
				fail(k, "a statement has Action or NotAction, not both")
				continue
			}
			actionKey = k
			st.notAction = k == "NotAction"
			list, err := stringList(val)
			if err != nil {
				fail(k, "%v", err)
				continue
			}
			for j, s := range list {
				field := listField(k, val, j)
				if err := validAction(s); err != nil {
					fail(field, "%v", err)
					continue
				}
				p, _ := compilePattern(s, compileOptions{wildcards: true, fold: true})
				st.actions = append(st.actions, p)
				st.actionSrc = append(st.actionSrc, actionSource{field: field, text: s})
			}
		case "Resource", "NotResource":
			if resourceKey != "" {
				fail(k, "a statement has Resource or NotResource, not both")
				continue
			}
			resourceKey = k
			st.notResource = k == "NotResource"
			list, err := stringList(val)
			if err != nil {
				fail(k, "%v", err)
				continue
			}
			for j, s := range list {
				field := listField(k, val, j)
				if err := validResource(s); err != nil {
					fail(field, "%v", err)
					continue
				}
				a, err := compileARNPattern(s, compileOptions{wildcards: true, variables: variables})
				if err != nil {
					fail(field, "%v", err)
					continue
				}
				st.resources = append(st.resources, a)
				resSrc = append(resSrc, actionSource{field: field, text: s})
			}
		case "Condition":
			conds, cerrs := compileConditionBlock(val, variables)
			st.conditions = conds
			for _, e := range cerrs {
				var fe *fieldError
				if errors.As(e, &fe) {
					fail("Condition."+fe.field, "%s", fe.msg)
				} else {
					fail("Condition", "%v", e)
				}
			}
		case "Principal", "NotPrincipal":
			fail(k, "not allowed in identity policies and guardrails (the principal is whoever the policy is attached to)")
		default:
			fail(k, "unknown statement element (want Sid, Effect, Action, NotAction, Resource, NotResource or Condition)")
		}
	}
	st.knownActions = knownActionMask(st.actions)
	for _, r := range resSrc {
		if msg := lintResource(r.text, st.notAction, st.actionSrc); msg != "" {
			fail(r.field, "%s", msg)
		}
	}
	if _, ok := m["Effect"]; !ok {
		fail("Effect", "missing (want \"Allow\" or \"Deny\")")
	}
	if actionKey == "" {
		fail("Action", "missing (a statement needs Action or NotAction)")
	}
	if resourceKey == "" {
		fail("Resource", "missing (a statement needs Resource or NotResource; use \"*\" for every resource)")
	}
	return st, errs
}

// compileConditionBlock compiles a Condition element: operator → key → values.
func compileConditionBlock(raw any, variables bool) ([]condition, []error) {
	ops, ok := asObject(raw)
	if !ok {
		return nil, []error{errorf("must be an object of condition operators, not %s", kindOf(raw))}
	}
	var conds []condition
	var errs []error
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		keys, ok := asObject(ops[op])
		if !ok {
			errs = append(errs, &fieldError{field: op, msg: fmt.Sprintf("must be an object of condition keys, not %s", kindOf(ops[op]))})
			continue
		}
		if len(keys) == 0 {
			errs = append(errs, &fieldError{field: op, msg: "no condition keys"})
			continue
		}
		for _, key := range slices.Sorted(maps.Keys(keys)) {
			values, err := scalarList(keys[key])
			if err != nil {
				errs = append(errs, &fieldError{field: op + "." + key, msg: err.Error()})
				continue
			}
			c, err := compileCondition(op, key, values, variables)
			if err != nil {
				errs = append(errs, &fieldError{field: op + "." + key, msg: err.Error()})
				continue
			}
			conds = append(conds, c)
		}
	}
	return conds, errs
}

// validAction checks an Action or NotAction entry: `*` or service:action,
// where the action part may use wildcards.
func validAction(s string) error {
	if s == "*" {
		return nil
	}
	svc, act, ok := strings.Cut(s, ":")
	if !ok || svc == "" || act == "" || strings.Contains(act, ":") {
		return errorf("%q is not an action (want service:action, e.g. bedrock:InvokeModel, or \"*\")", s)
	}
	if strings.ContainsAny(s, " \t\r\n") {
		return errorf("%q is not an action: it contains white space", s)
	}
	return nil
}

// validResource checks a Resource or NotResource entry: `*` or an ARN
// pattern with a partition and a service.
func validResource(s string) error {
	if s == "*" {
		return nil
	}
	bad := errorf("%q is not an ARN pattern (want \"*\" or arn:partition:service:region:account:resource)", s)
	if !strings.HasPrefix(s, "arn:") {
		return bad
	}
	parts := splitARN(s, true)
	if parts[1] == "" || len(parts) < 3 || parts[2] == "" {
		return bad
	}
	if len(parts) < arnSegments && !strings.HasSuffix(s, "*") {
		return bad
	}
	return nil
}

// stringList reads a string or an array of strings.
func stringList(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case []any:
		if len(v) == 0 {
			return nil, errorf("empty list")
		}
		out := make([]string, 0, len(v))
		for j, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, errorf("[%d] must be a string, not %s", j, kindOf(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, errorf("must be a string or an array of strings, not %s", kindOf(v))
}

// scalarList reads condition values: a scalar or an array of scalars, where
// numbers and booleans are normalised to their JSON text.
func scalarList(v any) ([]string, error) {
	if list, ok := v.([]any); ok {
		if len(list) == 0 {
			return nil, errorf("no values")
		}
		out := make([]string, 0, len(list))
		for j, e := range list {
			s, ok := scalarString(e)
			if !ok {
				return nil, errorf("[%d] must be a string, number or boolean, not %s", j, kindOf(e))
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := scalarString(v)
	if !ok {
		return nil, errorf("must be a string, number, boolean or an array of them, not %s", kindOf(v))
	}
	return []string{s}, nil
}

func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10), true
		}
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	}
	return "", false
}

// asObject reads a JSON object, accepting YAML's map[any]any with string keys.
func asObject(v any) (map[string]any, bool) {
	switch v := v.(type) {
	case map[string]any:
		return v, true
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			s, ok := k.(string)
			if !ok {
				return nil, false
			}
			m[s] = e
		}
		return m, true
	}
	return nil, false
}

// listField names the j-th entry of an element for errors: "Action[2]" when
// the element is an array, "Action" when it is a single string.
func listField(k string, v any, j int) string {
	if _, ok := v.([]any); ok {
		return fmt.Sprintf("%s[%d]", k, j)
	}
	return k
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number, float64, int, int64, uint64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any, map[any]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func show(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return kindOf(v)
}
