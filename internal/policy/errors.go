package policy

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidPolicy is matched by every error that rejects a policy
	// document (each one a [*ParseError]); test with errors.Is.
	ErrInvalidPolicy = errors.New("invalid policy")
	// ErrInvalidContext reports a malformed request context given to the
	// simulator (a context file or a KEY=VALUE pair).
	ErrInvalidContext = errors.New("invalid context")
)

// ParseError is one problem in a policy document. Its message names the
// statement (by index, and by Sid when it has one), the element and what is
// wrong, but not the policy: callers that know the policy's name add it,
// e.g. fmt.Errorf("policies.%s: %w", name, err).
type ParseError struct {
	// Statement is the index of the statement in the Statement array (0 when
	// Statement is a single object), or -1 for a problem of the document.
	Statement int
	// Sid is the statement's Sid, if it has one.
	Sid string
	// Field is the element path within the statement or document, e.g.
	// "Effect" or "Condition.StringEquals.aws:username".
	Field string
	// Msg says what is wrong and, where it helps, how to fix it.
	Msg string
}

// Error implements error.
func (e *ParseError) Error() string {
	loc := ""
	if e.Statement >= 0 {
		loc = fmt.Sprintf("Statement[%d]", e.Statement)
		if e.Sid != "" {
			loc += fmt.Sprintf(" (Sid %q)", e.Sid)
		}
	}
	if e.Field != "" {
		if loc != "" {
			loc += "."
		}
		loc += e.Field
	}
	if loc == "" {
		return e.Msg
	}
	return loc + ": " + e.Msg
}

// Is makes errors.Is(err, ErrInvalidPolicy) true.
func (e *ParseError) Is(target error) bool { return target == ErrInvalidPolicy }

// fieldError is an error found below the statement level, before the
// statement index is known.
type fieldError struct {
	field string
	msg   string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

// errorf returns a plain error for helpers that do not know the field.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
