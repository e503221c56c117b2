package policy

import (
	"errors"
	"fmt"
	"strings"
)

// actionSource is one Action or NotAction entry as written.
type actionSource struct {
	field string // "Action", "Action[1]", "NotAction[0]"
	text  string
}

// KnownActions returns the actions Meridian authorizes: the only ones a
// statement's Action or NotAction can usefully name (docs/policies.md).
func KnownActions() []string { return append([]string(nil), knownActions[:]...) }

// CheckActions reports every Action and NotAction entry of p that matches
// none of the actions Meridian authorizes ([KnownActions]). Such an entry
// is almost always a typo (bedrock:InvokeModell) and would silently allow
// or deny nothing: every call of a principal whose only Allow misspells its
// action is implicitly denied, and a misspelt Deny denies nothing. A
// wildcard passes when it matches at least one known action ("*",
// "bedrock:Invoke*"). Each problem is a [*ParseError] naming the statement
// and the entry, with the nearest known action when one is close; they are
// joined with errors.Join. Evaluation does not depend on it: a policy that
// fails CheckActions still evaluates as IAM would.
func (p *Policy) CheckActions() error {
	var errs []error
	for i, st := range p.statements {
		for j, src := range st.actionSrc {
			if knownActionMask(st.actions[j:j+1]) != 0 {
				continue
			}
			msg := fmt.Sprintf("%q is not an action Meridian authorizes", src.text)
			if near := NearestAction(src.text); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", near)
			} else if strings.ContainsAny(src.text, "*?") {
				msg += " (the wildcard matches none of them)"
			}
			errs = append(errs, &ParseError{Statement: i, Sid: st.ref.Sid, Field: src.field, Msg: msg})
		}
	}
	return errors.Join(errs...)
}

// NearestAction returns the known action closest to action (ignoring case),
// when it is close enough to be a typo of it, or "".
func NearestAction(action string) string {
	a := strings.ToLower(action)
	best, bestD := "", max(2, len(a)/5)+1
	for _, k := range knownActions {
		if d := editDistance(a, strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// CheckAction reports an action that is not one Meridian authorizes, as
// the simulator's --action is checked: an exact name (any case), no
// wildcards.
func CheckAction(action string) error {
	if knownActionIndex(action) >= 0 {
		return nil
	}
	msg := fmt.Sprintf("%q is not an action Meridian authorizes", action)
	if near := NearestAction(action); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	return errors.New(msg + " (known: " + strings.Join(knownActions[:], ", ") + ")")
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
