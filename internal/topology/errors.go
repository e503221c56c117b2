package topology

import (
	"fmt"
	"strings"
)

// ConfigError is one problem in a topology file.
type ConfigError struct {
	File string
	// Line is 1-based; zero when unknown.
	Line int
	// Field is the path of the field, e.g. "regions[2].geography".
	Field string
	// Msg says what is wrong; Hint says how to fix it.
	Msg  string
	Hint string
}

// Error formats the problem as "file:line: field: msg (fix: hint)".
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (fix: ")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// ValidationError holds every problem found in one file.
type ValidationError struct {
	Problems []*ConfigError
}

// Error lists the problems, one a line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the individual problems for errors.Is and errors.As.
func (e *ValidationError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}
