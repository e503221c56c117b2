package topology

import (
	"fmt"
	"strings"
)

// Severity says whether a ConfigError refuses the file.
type Severity int

const (
	// SeverityError refuses the file: it is not served, loaded or reloaded.
	SeverityError Severity = iota
	// SeverityNote is for a file that is accepted as it is, with something
	// worth knowing (a policy action Meridian never authorizes): `config
	// validate` prints it, and Config.Notes lists it for the node to log.
	SeverityNote
)

// ConfigError is one problem in a topology file, or, with SeverityNote, a
// note about it.
type ConfigError struct {
	File string
	// Line is 1-based; zero when unknown.
	Line int
	// Field is the path of the field, e.g. "regions[2].geography".
	Field string
	// Msg says what is wrong; Hint says how to fix it.
	Msg  string
	Hint string
	// Severity is SeverityError (the zero value) for a problem.
	Severity Severity
}

// Error formats the problem as "file:line: field: msg (fix: hint)", and a
// note as "file:line: field: note: msg (see hint)".
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
	if e.Severity == SeverityNote {
		b.WriteString("note: ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" && e.Severity == SeverityNote {
		b.WriteString(" (see ")
		b.WriteString(e.Hint)
		b.WriteString(")")
	} else if e.Hint != "" {
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

// Notes returns the notes of the last Validate (Check, Load and Parse
// validate), in the order of their lines: things the file does that are
// accepted but worth knowing, such as a policy naming a Bedrock action
// Meridian never authorizes. They never refuse the file; `meridian config
// validate` prints them, and a node should log them once when it starts
// or reloads the file.
func (c *Config) Notes() []*ConfigError { return c.notes }
