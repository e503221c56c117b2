package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/meridian-gateway/meridian/internal/textdist"
)

// setKeys lists every context key the gateway sets on a request, in the
// order docs/policies.md ("The request context") lists them. It is the one
// list: [SetKeys] returns it, the load check below refuses other keys of
// the aws:, bedrock: and meridian: namespaces, and TestSetKeysDocumented
// checks the doc's table against it.
var setKeys = []string{
	KeyRequestedRegion,
	KeySourceIP,
	KeyCurrentTime,
	KeyEpochTime,
	KeySecureTransport,
	KeyUsername,
	KeyUserID,
	KeyPrincipalARN,
	KeyPrincipalAccount,
	KeyPrincipalType,
	KeyPrincipalIsAWSService,
	KeyViaAWSService,
	PrefixPrincipalTag + "<key>",
	PrefixRequestTag + "<key>",
	KeyTagKeys,
	PrefixResourceTag + "<key>",
	KeyInferenceProfileARN,
	KeySourceRegion,
	KeyGeography,
}

// tagPrefixes are the key prefixes of setKeys.
var tagPrefixes = []string{PrefixPrincipalTag, PrefixRequestTag, PrefixResourceTag}

// ownedNamespaces are the key namespaces whose keys Meridian knows in full:
// a key of one of them that Meridian never sets is refused at load (a
// condition on it could never match, so a Deny on it would deny nothing).
var ownedNamespaces = []string{"aws", "bedrock", "meridian"}

// SetKeys returns the context keys the gateway sets on every request that
// they apply to; an entry ending in "<key>" stands for every key with that
// prefix (aws:PrincipalTag/<key>).
func SetKeys() []string { return append([]string(nil), setKeys...) }

// IsSetKey reports whether the gateway sets key (any case) on requests:
// one of [SetKeys] or a tag key with a non-empty tag name.
func IsSetKey(key string) bool {
	if identify(key) != keyOther {
		return true
	}
	for _, p := range tagPrefixes {
		if len(key) > len(p) && equalFoldASCII(key[:len(p)], p) {
			return true
		}
	}
	return false
}

// ownedKey reports whether key is in a namespace Meridian knows in full.
func ownedKey(key string) bool {
	ns, _, _ := strings.Cut(key, ":")
	for _, o := range ownedNamespaces {
		if strings.EqualFold(ns, o) {
			return true
		}
	}
	return false
}

// checkSetKey refuses a key of the aws:, bedrock: or meridian: namespace
// that Meridian never sets, with the nearest key it does set when the key
// looks like a typo of one.
func checkSetKey(key string) error {
	if !ownedKey(key) || IsSetKey(key) {
		return nil
	}
	return errors.New(unsetKeyMsg(key, false))
}

func unsetKeyMsg(key string, variable bool) string {
	msg := fmt.Sprintf("condition key %q is never set by Meridian: it is absent from every request, so a positive operator on it never matches (a Deny on it denies nothing) and a negated one always does", key)
	if variable {
		msg = fmt.Sprintf("context key %q is never set by Meridian, so the variable never resolves and the entry never matches", key)
	}
	if near := nearestSetKey(key); near != "" {
		msg += fmt.Sprintf(". Did you mean %s?", near)
	} else {
		msg += "."
	}
	return msg + " Use a key Meridian sets: " + strings.Join(setKeys, ", ") + " (docs/policies.md#the-request-context)"
}

// nearestSetKey returns the key of setKeys closest to key (ignoring case),
// within 2 edits, or "". A tag key with a misspelt prefix is compared by
// its prefix.
func nearestSetKey(key string) string {
	k := strings.ToLower(key)
	best, bestD := "", 3
	for _, s := range setKeys {
		cand := s
		probe := k
		if strings.HasSuffix(s, "<key>") {
			cand = strings.TrimSuffix(s, "<key>")
			i := strings.IndexByte(k, '/')
			if i < 0 {
				continue
			}
			probe = k[:i+1]
		}
		if d := textdist.Levenshtein(probe, strings.ToLower(cand)); d < bestD {
			best, bestD = s, d
			if strings.HasSuffix(s, "<key>") {
				best = cand + key[strings.IndexByte(key, '/')+1:]
			}
		}
	}
	return best
}

// CheckKeys reports every condition key and policy variable of p in a
// namespace other than aws:, bedrock: and meridian: (which [Parse] already
// restricts to the keys Meridian sets): the gateway never sets them, so a
// condition on one never matches and a variable naming one never resolves.
// The topology refuses them (a live node would ignore the statement);
// the simulator, whose caller may give any key with --context, reports
// them as notes. Each problem is a [*ParseError] naming the statement and
// the element; they are joined with errors.Join.
func (p *Policy) CheckKeys() error {
	var errs []error
	for i := range p.statements {
		st := &p.statements[i]
		fail := func(field, key string) {
			errs = append(errs, &ParseError{Statement: i, Sid: st.ref.Sid, Field: field,
				Msg: fmt.Sprintf("key %q is never set by Meridian: it is absent from every request, so a condition on it is decided as for an absent key and a variable naming it never resolves", key)})
		}
		foreign := func(k string) bool { return !ownedKey(k) && !IsSetKey(k) }
		pat := func(field string, pt *pattern) {
			for _, t := range pt.toks {
				if t.kind == tokVariable && foreign(t.vr.key.name) {
					fail(field, t.vr.key.name)
				}
			}
		}
		resField := "Resource"
		if st.notResource {
			resField = "NotResource"
		}
		for j := range st.resources {
			for k := range st.resources[j].segs {
				pat(listFieldN(resField, len(st.resources), j), &st.resources[j].segs[k])
			}
		}
		for j := range st.conditions {
			c := &st.conditions[j]
			field := "Condition." + c.operator + "." + c.key.name
			if foreign(c.key.name) {
				fail(field, c.key.name)
			}
			for k := range c.strs {
				pat(field, &c.strs[k])
			}
			for k := range c.arns {
				for s := range c.arns[k].segs {
					pat(field, &c.arns[k].segs[s])
				}
			}
		}
	}
	return errors.Join(errs...)
}

func listFieldN(k string, n, j int) string {
	if n == 1 {
		return k
	}
	return fmt.Sprintf("%s[%d]", k, j)
}

// PrincipalARN is the value of aws:PrincipalArn for a principal named
// username (its id when it has no username) in account:
// arn:{partition}:iam::{account}:user/{username}, the form of an IAM
// user's ARN, so that a guardrail written for IAM users
// (`ArnLike aws:PrincipalArn arn:aws:iam::*:user/contractor-*`) applies.
func PrincipalARN(partition, account, username string) string {
	return "arn:" + partition + ":iam::" + account + ":user/" + username
}

// PrincipalType is the value of aws:PrincipalType for every Meridian
// principal.
const PrincipalType = "User"

// AddPrincipalKeys adds the keys that describe the principal itself and
// are present on every request: aws:PrincipalArn (arn, see
// [PrincipalARN]), aws:PrincipalAccount, aws:PrincipalType ("User"),
// aws:PrincipalIsAWSService and aws:ViaAWSService ("false"). The gateway
// and the simulator both call it, so that they agree.
//
// The keys' ids are known, so they are appended without identify's
// search through the fixed keys (five Adds would fold each name against
// every fixed key).
func (c *Context) AddPrincipalKeys(arn, account string) {
	c.pairs = append(c.pairs,
		pair{key: KeyPrincipalARN, id: keyPrincipalARN, value: arn},
		pair{key: KeyPrincipalAccount, id: keyPrincipalAccount, value: account},
		pair{key: KeyPrincipalType, id: keyPrincipalType, value: PrincipalType},
		pair{key: KeyPrincipalIsAWSService, id: keyPrincipalIsAWSService, value: "false"},
		pair{key: KeyViaAWSService, id: keyViaAWSService, value: "false"})
}

// LiteralVariableNotes returns a note for every Resource, NotResource and
// condition value of a 2008-10-17 policy (or one without a Version) that
// contains `${`: policy variables are literal text there, as in IAM, so
// `…/${aws:username}/*` matches only those characters and a Deny on it
// denies nothing. A 2012-10-17 policy gets none.
func (p *Policy) LiteralVariableNotes() []*ParseError {
	if p.version == Version2012 {
		return nil
	}
	var out []*ParseError
	for i := range p.statements {
		st := &p.statements[i]
		note := func(field, text string) {
			out = append(out, &ParseError{Statement: i, Sid: st.ref.Sid, Field: field,
				Msg: fmt.Sprintf("%q is literal text: policy variables are recognised only with \"Version\": %q (this policy's is %q); add that Version if ${…} is meant as a variable", text, Version2012, p.version)})
		}
		resField := "Resource"
		if st.notResource {
			resField = "NotResource"
		}
		for j := range st.resources {
			if strings.Contains(st.resources[j].src, "${") {
				note(listFieldN(resField, len(st.resources), j), st.resources[j].src)
			}
		}
		for j := range st.conditions {
			c := &st.conditions[j]
			field := "Condition." + c.operator + "." + c.key.name
			for k := range c.strs {
				if strings.Contains(c.strs[k].src, "${") {
					note(field, c.strs[k].src)
				}
			}
			for k := range c.arns {
				if strings.Contains(c.arns[k].src, "${") {
					note(field, c.arns[k].src)
				}
			}
		}
	}
	return out
}
