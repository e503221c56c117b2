package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Document is a named policy document as read from a file or the config.
type Document struct {
	// Name identifies the policy in explanations and errors.
	Name string
	// JSON is the policy document.
	JSON []byte
}

// SimulateInput is the input of [Simulate]: what `meridian policy simulate
// --policy … --action … --resource …` reads from its flags and files.
type SimulateInput struct {
	// Policies are the identity policies.
	Policies []Document
	// Guardrails are the guardrails, each evaluated at its own level.
	Guardrails []Document
	// Action and Resource are the request.
	Action   string
	Resource string
	// Context holds the request context: each key with one or more values.
	Context map[string][]string
}

// Report is the simulator's verdict for one request. Its JSON form is the
// contract of `meridian policy simulate --output json`.
type Report struct {
	// Decision is "allow", "explicitDeny" or "implicitDeny".
	Decision Decision `json:"decision"`
	// Action and Resource are what was evaluated.
	Action   string `json:"action"`
	Resource string `json:"resource"`
	// Statement is the deciding statement (see [Result]); nil for
	// implicitDeny.
	Statement *StatementRef `json:"decidingStatement,omitempty"`
	// Guardrail names the guardrail that allowed nothing, for implicitDeny.
	Guardrail string `json:"guardrailWithoutAllow,omitempty"`
	// Matched lists every statement that matched, guardrails first.
	Matched []Match `json:"matchedStatements"`
	// Reason is a one-line explanation.
	Reason string `json:"reason"`
}

// Simulate parses the policies and evaluates one request. It fails only for
// bad input (an invalid policy, an empty action or resource); the decision,
// whatever it is, is in the Report.
func Simulate(in SimulateInput) (*Report, error) {
	if in.Action == "" {
		return nil, errors.New("simulate: no action")
	}
	if in.Resource == "" {
		return nil, errors.New("simulate: no resource")
	}
	identity, err := parseDocuments(in.Policies)
	if err != nil {
		return nil, err
	}
	guardrails, err := parseDocuments(in.Guardrails)
	if err != nil {
		return nil, err
	}
	set := NewSet(identity, guardrails)
	c := ContextFromMap(in.Context)
	r, matched := set.Explain(in.Action, in.Resource, c)
	rep := &Report{
		Decision:  r.Decision,
		Action:    in.Action,
		Resource:  in.Resource,
		Guardrail: r.Guardrail,
		Matched:   matched,
		Reason:    reason(r, len(identity)),
	}
	if rep.Matched == nil {
		rep.Matched = []Match{}
	}
	if r.Decision != ImplicitDeny {
		ref := r.Statement
		rep.Statement = &ref
	}
	return rep, nil
}

func parseDocuments(docs []Document) ([]*Policy, error) {
	out := make([]*Policy, 0, len(docs))
	var errs []error
	for _, d := range docs {
		p, err := Parse(d.Name, d.JSON)
		if err != nil {
			// Name the policy on every problem, not just the first line.
			list := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				list = j.Unwrap()
			}
			for _, e := range list {
				errs = append(errs, fmt.Errorf("policy %q: %w", d.Name, e))
			}
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

func reason(r Result, identityPolicies int) string {
	switch r.Decision {
	case Allow:
		return "allowed by " + r.Statement.String()
	case ExplicitDeny:
		return "explicitly denied by " + r.Statement.String()
	}
	if r.Guardrail != "" {
		return fmt.Sprintf("implicitly denied: guardrail %q has no statement that allows the request", r.Guardrail)
	}
	if identityPolicies == 0 {
		return "implicitly denied: no identity policy is attached"
	}
	return "implicitly denied: no identity policy statement allows the request"
}

// Text renders the report for people, one fact a line.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "decision: %s\n", r.Decision)
	fmt.Fprintf(&b, "action:   %s\n", r.Action)
	fmt.Fprintf(&b, "resource: %s\n", r.Resource)
	fmt.Fprintf(&b, "reason:   %s\n", r.Reason)
	if len(r.Matched) == 0 {
		b.WriteString("matched statements: none\n")
	} else {
		b.WriteString("matched statements:\n")
		for _, m := range r.Matched {
			fmt.Fprintf(&b, "  %-5s %s\n", m.Effect, m.StatementRef)
		}
	}
	return b.String()
}

// ContextFromMap builds a Context from keys and their values, adding keys in
// sorted order so that the result does not depend on map order.
func ContextFromMap(m map[string][]string) *Context {
	keys := make([]string, 0, len(m))
	n := 0
	for k, vs := range m {
		keys = append(keys, k)
		n += len(vs)
	}
	slices.Sort(keys)
	c := NewContext(n)
	for _, k := range keys {
		for _, v := range m[k] {
			c.Add(k, v)
		}
	}
	return c
}

// ParseContextJSON parses a context file: a JSON object whose values are
// strings or arrays of strings (multi-valued keys). Numbers and booleans are
// accepted and kept as their JSON text. Errors match [ErrInvalidContext].
func ParseContextJSON(data []byte) (map[string][]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: want a JSON object of keys to strings or arrays of strings: %v", ErrInvalidContext, err)
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: want a JSON object, not null", ErrInvalidContext)
	}
	out := make(map[string][]string, len(raw))
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		if !validKeyName(k) {
			return nil, fmt.Errorf("%w: %q is not a context key (want service:name, e.g. aws:SourceIp)", ErrInvalidContext, k)
		}
		switch v := raw[k].(type) {
		case []any:
			vals := make([]string, 0, len(v))
			for i, e := range v {
				s, ok := scalarString(e)
				if !ok {
					return nil, fmt.Errorf("%w: %s[%d] must be a string, not %s", ErrInvalidContext, k, i, kindOf(e))
				}
				vals = append(vals, s)
			}
			out[k] = vals
		default:
			s, ok := scalarString(v)
			if !ok {
				return nil, fmt.Errorf("%w: %s must be a string or an array of strings, not %s", ErrInvalidContext, k, kindOf(v))
			}
			out[k] = []string{s}
		}
	}
	return out, nil
}

// ParseContextPair parses one KEY=VALUE argument and adds it to m, so that
// repeating a key gives it several values.
func ParseContextPair(m map[string][]string, arg string) error {
	k, v, ok := strings.Cut(arg, "=")
	if !ok || !validKeyName(k) {
		return fmt.Errorf("%w: %q is not KEY=VALUE with a context key such as aws:SourceIp", ErrInvalidContext, arg)
	}
	m[k] = append(m[k], v)
	return nil
}
