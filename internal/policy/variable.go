package policy

import (
	"errors"
	"strings"
)

// variable is a policy variable, `${key}` or `${key, 'default'}`.
type variable struct {
	key        keyRef
	def        string
	hasDefault bool
}

// parseVariable parses the text between `${` and `}`.
func parseVariable(body string) (*variable, error) {
	name, def, hasDefault := strings.Cut(body, ",")
	name = strings.TrimSpace(name)
	v := &variable{key: newKeyRef(name)}
	if hasDefault {
		def = strings.TrimSpace(def)
		if len(def) < 2 || def[0] != '\'' || def[len(def)-1] != '\'' {
			return nil, errors.New("policy variable default must be quoted with single quotes")
		}
		v.def, v.hasDefault = def[1:len(def)-1], true
	}
	if !validKeyName(name) {
		return nil, errors.New("policy variable ${" + body + "} does not name a context key")
	}
	if ownedKey(name) && !IsSetKey(name) {
		return nil, errors.New("policy variable ${" + body + "}: " + unsetKeyMsg(name, true))
	}
	return v, nil
}

// validKeyName reports whether name looks like a context key: a service
// prefix, a colon and a name, without spaces.
func validKeyName(name string) bool {
	prefix, rest, ok := strings.Cut(name, ":")
	if !ok || prefix == "" || rest == "" {
		return false
	}
	return !strings.ContainsAny(name, " \t\r\n${}")
}
