package policy

// ContextKeys returns every context key that s's statements read: the keys
// of their conditions and the keys their policy variables name (in actions,
// resources and condition values), each once (keys are case-insensitive),
// as first written, in no particular order. A nil Set reads none.
//
// An evaluation depends on its context only through these keys: two
// contexts that agree on the values of every key ContextKeys names give
// every action and resource the same [Result], and the same
// [DestinationResult]s in [Set.AuthorizeInvoke]. A gateway may therefore
// reuse a decision for requests whose contexts differ only in other keys
// (the time, the caller's address, when no statement reads them).
func (s *Set) ContextKeys() []string {
	if s == nil {
		return nil
	}
	var keys []string
	add := func(name string) {
		for _, k := range keys {
			if equalFoldASCII(k, name) {
				return
			}
		}
		keys = append(keys, name)
	}
	pat := func(p *pattern) {
		for _, t := range p.toks {
			if t.kind == tokVariable {
				add(t.vr.key.name)
			}
		}
	}
	arn := func(a *arnPattern) {
		for i := range a.segs {
			pat(&a.segs[i])
		}
	}
	for _, list := range [][]*Policy{s.guardrails, s.identity} {
		for _, p := range list {
			for i := range p.statements {
				st := &p.statements[i]
				for j := range st.actions {
					pat(&st.actions[j])
				}
				for j := range st.resources {
					arn(&st.resources[j])
				}
				for j := range st.conditions {
					c := &st.conditions[j]
					add(c.key.name)
					for k := range c.strs {
						pat(&c.strs[k])
					}
					for k := range c.arns {
						arn(&c.arns[k])
					}
				}
			}
		}
	}
	return keys
}
