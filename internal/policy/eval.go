package policy

// Set is what one principal is evaluated against: its identity policies and
// the organisation's guardrails. Build it once per principal at config load
// with [NewSet]; it is immutable and safe for concurrent use.
type Set struct {
	identity   []*Policy
	guardrails []*Policy
	denies     []*statement // every Deny statement, guardrails first
}

// NewSet returns the set for a principal with the given identity policies
// and guardrails. Each guardrail is evaluated like a service control policy
// at its own level: it can only take permissions away, so a request needs an
// Allow statement in every guardrail (a guardrail that only denies must also
// allow "*", as AWS's FullAWSAccess does) as well as in the identity
// policies. Nil policies are ignored.
func NewSet(identity, guardrails []*Policy) *Set {
	s := &Set{}
	for _, p := range guardrails {
		if p == nil {
			continue
		}
		s.guardrails = append(s.guardrails, withGuardrail(p))
	}
	for _, p := range identity {
		if p != nil {
			s.identity = append(s.identity, p)
		}
	}
	for _, p := range s.guardrails {
		s.denies = appendDenies(s.denies, p)
	}
	for _, p := range s.identity {
		s.denies = appendDenies(s.denies, p)
	}
	return s
}

// withGuardrail returns a copy of p whose statement references say they are
// in a guardrail.
func withGuardrail(p *Policy) *Policy {
	q := &Policy{name: p.name, version: p.version, statements: make([]statement, len(p.statements))}
	copy(q.statements, p.statements)
	for i := range q.statements {
		q.statements[i].ref.Guardrail = true
	}
	return q
}

func appendDenies(dst []*statement, p *Policy) []*statement {
	for i := range p.statements {
		if st := &p.statements[i]; st.effect == EffectDeny {
			dst = append(dst, st)
		}
	}
	return dst
}

// Result is the outcome of one evaluation.
type Result struct {
	// Decision is the verdict.
	Decision Decision
	// Statement is the statement that decided: the first matching Deny for
	// ExplicitDeny, the first matching identity Allow for Allow. It is the
	// zero StatementRef for ImplicitDeny.
	Statement StatementRef
	// Guardrail, for ImplicitDeny, names the first guardrail that allowed
	// nothing; it is empty when the guardrails allowed the request and the
	// identity policies did not.
	Guardrail string
}

// Evaluate decides whether the principal may perform action on resource in
// context c: a matching Deny statement in any guardrail or identity policy
// gives ExplicitDeny; otherwise every guardrail and at least one identity
// policy must have a matching Allow statement, else ImplicitDeny. For
// actions without a resource (bedrock:ListInferenceProfiles) pass "*".
// A nil Set or Context is empty. Evaluate does not allocate.
func (s *Set) Evaluate(action, resource string, c *Context) Result {
	if c == nil {
		c = &Context{}
	}
	v := view{c: c}
	return s.eval(action, resource, &v)
}

func (s *Set) eval(action, resource string, v *view) Result {
	if s == nil {
		return Result{}
	}
	req := request{action: action, actionIdx: knownActionIndex(action), resource: splitParts(resource)}
	for _, st := range s.denies {
		if st.matches(&req, v) {
			return Result{Decision: ExplicitDeny, Statement: st.ref}
		}
	}
	for _, p := range s.guardrails {
		if _, ok := p.firstAllow(&req, v); !ok {
			return Result{Decision: ImplicitDeny, Guardrail: p.name}
		}
	}
	for _, p := range s.identity {
		if st, ok := p.firstAllow(&req, v); ok {
			return Result{Decision: Allow, Statement: st.ref}
		}
	}
	return Result{}
}

// request is the action and resource of one evaluation, prepared once.
type request struct {
	action    string
	actionIdx int // index in knownActions, or -1
	resource  arnParts
}

func (p *Policy) firstAllow(req *request, v *view) (*statement, bool) {
	for i := range p.statements {
		st := &p.statements[i]
		if st.effect == EffectAllow && st.matches(req, v) {
			return st, true
		}
	}
	return nil, false
}

// matches reports whether the statement applies to the request: its action,
// resource and every condition match.
func (st *statement) matches(req *request, v *view) bool {
	if st.matchAction(req) == st.notAction {
		return false
	}
	if st.matchResource(&req.resource, v) == st.notResource {
		return false
	}
	for i := range st.conditions {
		if !st.conditions[i].eval(v) {
			return false
		}
	}
	return true
}

func (st *statement) matchAction(req *request) bool {
	if req.actionIdx >= 0 {
		return st.knownActions&(1<<req.actionIdx) != 0
	}
	for i := range st.actions {
		if st.actions[i].match(req.action, nil) {
			return true
		}
	}
	return false
}

func (st *statement) matchResource(parts *arnParts, v *view) bool {
	for i := range st.resources {
		if st.resources[i].matchParts(parts, v) {
			return true
		}
	}
	return false
}

// Match is a statement that applied to a request, for explanations.
type Match struct {
	StatementRef
	// Effect is the statement's effect.
	Effect Effect `json:"effect"`
}

// Explain evaluates like [Set.Evaluate] and also returns every statement
// that matched, guardrails first, in policy order. It allocates; use it for
// the simulator, denial logs and audit detail, not on the hot path.
func (s *Set) Explain(action, resource string, c *Context) (Result, []Match) {
	if c == nil {
		c = &Context{}
	}
	v := view{c: c}
	return s.explain(action, resource, &v)
}

func (s *Set) explain(action, resource string, v *view) (Result, []Match) {
	r := s.eval(action, resource, v)
	if s == nil {
		return r, nil
	}
	req := request{action: action, actionIdx: knownActionIndex(action), resource: splitParts(resource)}
	var out []Match
	for _, list := range [][]*Policy{s.guardrails, s.identity} {
		for _, p := range list {
			for i := range p.statements {
				st := &p.statements[i]
				if st.matches(&req, v) {
					out = append(out, Match{StatementRef: st.ref, Effect: st.effect})
				}
			}
		}
	}
	return r, out
}

// knownActions are the actions the gateway asks about on every request. Each
// statement records at load time which of them its Action list matches, so
// that evaluating them is a bit test instead of a case-insensitive pattern
// match.
var knownActions = [...]string{
	ActionInvokeModel,
	ActionInvokeModelWithResponseStream,
	ActionListInferenceProfiles,
	ActionGetInferenceProfile,
	ActionCreateInferenceProfile,
	ActionDeleteInferenceProfile,
	ActionTagResource,
	ActionViewTraffic,
}

// knownActionIndex returns action's index in knownActions, or -1.
func knownActionIndex(action string) int {
	for i, a := range knownActions {
		if a == action {
			return i
		}
	}
	for i, a := range knownActions {
		if equalFoldASCII(a, action) {
			return i
		}
	}
	return -1
}

// knownActionMask returns the bit set of knownActions that patterns match.
func knownActionMask(patterns []pattern) uint16 {
	var m uint16
	for i, a := range knownActions {
		for j := range patterns {
			if patterns[j].match(a, nil) {
				m |= 1 << i
				break
			}
		}
	}
	return m
}
