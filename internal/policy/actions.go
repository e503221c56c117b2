package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/meridian-gateway/meridian/internal/textdist"
)

// actionSource is one Action or NotAction entry as written.
type actionSource struct {
	field string // "Action", "Action[1]", "NotAction[0]"
	text  string
}

// KnownActions returns the actions Meridian authorizes: the only ones a
// statement's Action or NotAction can usefully name (docs/policies.md).
func KnownActions() []string { return append([]string(nil), knownActions[:]...) }

// BedrockActions returns every IAM action of Amazon Bedrock, with the
// bedrock: prefix, sorted: the ones Meridian authorizes ([KnownActions])
// and the ones it accepts in a policy but never authorizes.
func BedrockActions() []string {
	out := make([]string, len(bedrockActions))
	for i, a := range bedrockActions {
		out[i] = "bedrock:" + a
	}
	return out
}

// ActionClass is what an Action or NotAction entry names, for Meridian.
type ActionClass int

const (
	// ActionServed names, or is a wildcard matching, an action Meridian
	// authorizes.
	ActionServed ActionClass = iota
	// ActionUnserved names a real Bedrock action Meridian never authorizes
	// (bedrock:ApplyGuardrail), or is a wildcard matching only such
	// actions: accepted, it grants and denies nothing here.
	ActionUnserved
	// ActionOtherService names another service's action (s3:GetObject):
	// accepted, it grants and denies nothing here.
	ActionOtherService
	// ActionUnknown is a typo: a bedrock: entry that is no Bedrock action
	// (bedrock:InvokeModell, bedrock:Converse), or a service prefix that
	// misspells bedrock (bedrok:InvokeModel). It is an error.
	ActionUnknown
)

// operationActions are Bedrock API operations that are not IAM actions of
// their own, with the actions that authorize them: a policy naming one
// grants nothing in AWS either.
var operationActions = map[string]string{
	"converse":         "bedrock:InvokeModel (ConverseStream: bedrock:InvokeModelWithResponseStream)",
	"conversestream":   "bedrock:InvokeModelWithResponseStream (Converse: bedrock:InvokeModel)",
	"startasyncinvoke": "bedrock:InvokeModel",
}

// ClassifyAction says what one Action or NotAction entry (wildcards
// allowed; any case, as IAM matches actions) names, and for ActionUnknown
// and ActionUnserved why, in a sentence that quotes the entry.
func ClassifyAction(entry string) (ActionClass, string) {
	p, err := compilePattern(entry, compileOptions{wildcards: true, fold: true})
	if err != nil {
		return ActionUnknown, fmt.Sprintf("%q is not an action", entry)
	}
	return classify(entry, []pattern{p})
}

func classify(entry string, p []pattern) (ActionClass, string) {
	if knownActionMask(p) != 0 {
		return ActionServed, ""
	}
	svc, act, _ := strings.Cut(entry, ":")
	wild := strings.ContainsAny(entry, "*?")
	if !strings.EqualFold(svc, "bedrock") {
		if !strings.ContainsAny(svc, "*?") {
			if d := textdist.Levenshtein(strings.ToLower(svc), "bedrock"); d > 0 && d <= 2 {
				msg := fmt.Sprintf("%q: %q is not a service prefix", entry, svc)
				if near := nearestBedrock(act); near != "" && !wild {
					msg += fmt.Sprintf("; did you mean %q?", near)
				} else {
					msg += fmt.Sprintf("; did you mean %q?", "bedrock:"+act)
				}
				return ActionUnknown, msg
			}
			return ActionOtherService, ""
		}
		// A wildcard service prefix ("*:Get*") may name other services.
		if matchesBedrock(p) {
			return ActionUnserved, unservedMsg(entry, wild)
		}
		return ActionOtherService, ""
	}
	if matchesBedrock(p) {
		return ActionUnserved, unservedMsg(entry, wild)
	}
	if via, ok := operationActions[strings.ToLower(act)]; ok && !wild {
		return ActionUnknown, fmt.Sprintf("%q is a Bedrock API operation, not an IAM action: Bedrock authorizes it as %s", entry, via)
	}
	msg := fmt.Sprintf("%q is not an IAM action of Amazon Bedrock", entry)
	if wild {
		return ActionUnknown, msg + " (the wildcard matches none)"
	}
	if near := nearestBedrock(act); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", near)
	}
	return ActionUnknown, msg
}

// unservedEffect ends the message of an ActionUnserved entry of Action.
const unservedEffect = ": it allows or denies nothing here"

func unservedMsg(entry string, wild bool) string {
	if wild {
		return fmt.Sprintf("%q matches only Bedrock actions Meridian never authorizes", entry) + unservedEffect
	}
	return fmt.Sprintf("%q is a Bedrock action Meridian never authorizes", entry) + unservedEffect
}

// matchesBedrock reports whether the patterns match a Bedrock action.
func matchesBedrock(p []pattern) bool {
	for _, a := range bedrockActions {
		for i := range p {
			if p[i].match("bedrock:"+a, nil) {
				return true
			}
		}
	}
	return false
}

// CheckActions reports every Action and NotAction entry of p that is a
// typo ([ActionUnknown]): a bedrock: entry that names no Bedrock action
// (bedrock:InvokeModell, which would silently allow nothing: every call of
// a principal whose only Allow misspells its action is implicitly denied,
// and a misspelt Deny denies nothing), or a service prefix that misspells
// bedrock. Real Bedrock actions Meridian does not authorize and other
// services' actions pass (see [Policy.ActionNotes]). A wildcard passes
// when it matches a Bedrock action. Each problem is a [*ParseError] naming
// the statement and the entry, with the nearest action when it is a
// plausible typo; they are joined with errors.Join. Evaluation does not
// depend on it: a policy that fails CheckActions still evaluates as IAM
// would.
func (p *Policy) CheckActions() error {
	var errs []error
	p.eachAction(func(i int, st *statement, src actionSource, class ActionClass, msg string) {
		if class == ActionUnknown {
			errs = append(errs, &ParseError{Statement: i, Sid: st.ref.Sid, Field: src.field, Msg: msg})
		}
	})
	return errors.Join(errs...)
}

// ActionNotes returns a note for every Action and NotAction entry of p that
// names (or is a wildcard matching only) Bedrock actions Meridian never
// authorizes ([ActionUnserved]): accepted, as in a policy copied from AWS,
// but it allows or denies nothing here. Other services' actions get no
// note.
func (p *Policy) ActionNotes() []*ParseError {
	var out []*ParseError
	p.eachAction(func(i int, st *statement, src actionSource, class ActionClass, msg string) {
		if class == ActionUnserved {
			if st.notAction {
				// NotAction: the statement applies to every other action,
				// Meridian's included; leaving this one out changes nothing.
				msg = strings.TrimSuffix(msg, unservedEffect) + ": leaving it out of the statement changes nothing here"
			}
			out = append(out, &ParseError{Statement: i, Sid: st.ref.Sid, Field: src.field, Msg: msg})
		}
	})
	return out
}

func (p *Policy) eachAction(f func(i int, st *statement, src actionSource, class ActionClass, msg string)) {
	for i := range p.statements {
		st := &p.statements[i]
		for j, src := range st.actionSrc {
			class, msg := classify(src.text, st.actions[j:j+1])
			f(i, st, src, class, msg)
		}
	}
}

// NearestAction returns the Bedrock action (one Meridian authorizes, or
// any other) closest to action (ignoring case), when it is close enough
// to be a typo of it, or "". An action that is itself a Bedrock action
// is its own nearest: bedrock:UntagResource is never a typo of
// bedrock:TagResource.
func NearestAction(action string) string {
	svc, act, ok := strings.Cut(action, ":")
	if !ok || !strings.EqualFold(svc, "bedrock") {
		return ""
	}
	return nearestBedrock(act)
}

// nearestBedrock returns "bedrock:"+the Bedrock action closest to act
// (ignoring case) within a plausible typo's distance: at most 2 edits,
// or a fifth of its length for longer names. Ties go to the action
// Meridian authorizes, then to the first in order.
func nearestBedrock(act string) string {
	a := strings.ToLower(act)
	best, bestD := "", max(2, len(a)/5)+1
	for _, k := range knownActions {
		_, name, _ := strings.Cut(k, ":")
		if d := textdist.Levenshtein(a, strings.ToLower(name)); d < bestD {
			best, bestD = k, d
		}
	}
	for _, name := range bedrockActions {
		if d := textdist.Levenshtein(a, strings.ToLower(name)); d < bestD {
			best, bestD = "bedrock:"+name, d
		}
	}
	return best
}

// CheckAction classifies the simulator's --action as [ClassifyAction]
// does an exact name (any case; no wildcards: a request names one
// action). It returns an error for an unknown Bedrock action, and a note
// (and no error) for an action Meridian never authorizes: a real Bedrock
// action it does not serve, or another service's.
func CheckAction(action string) (note string, err error) {
	if strings.ContainsAny(action, "*?") {
		return "", fmt.Errorf("%q is a wildcard: a request names one action, e.g. %s", action, ActionInvokeModel)
	}
	if _, _, ok := strings.Cut(action, ":"); !ok {
		return "", fmt.Errorf("%q is not an action (want service:action, e.g. %s)", action, ActionInvokeModel)
	}
	class, msg := ClassifyAction(action)
	switch class {
	case ActionServed:
		return "", nil
	case ActionUnserved:
		return fmt.Sprintf("%q is a Bedrock action Meridian never authorizes: no request to Meridian is evaluated for it", action), nil
	case ActionOtherService:
		return fmt.Sprintf("%q is not a Bedrock action: Meridian never authorizes it", action), nil
	}
	return "", errors.New(msg + " (Meridian authorizes: " + strings.Join(knownActions[:], ", ") + ")")
}
