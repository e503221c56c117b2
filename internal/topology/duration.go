package topology

import (
	"fmt"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration that reads and writes as a Go duration string
// ("250ms", "30s", "1h").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Or returns d, or def when d is zero.
func (d Duration) Or(def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// UnmarshalYAML parses a duration string such as "250ms". A value that is
// not one is recorded as a *yaml.TypeError (decodeError), which the decoder
// collects while it goes on with the rest of the file, so that one run of
// Parse reports every bad value.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return decodeError(n, "a duration is a string such as \"30s\", not a "+kindName(n.Kind), `write a number with a unit, e.g. "250ms", "30s", "1h"`)
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		hint := `write a number with a unit, e.g. "250ms", "30s", "1h"`
		if _, numErr := strconv.ParseFloat(n.Value, 64); numErr == nil {
			hint = fmt.Sprintf("give it a unit: %q (seconds) or %q (milliseconds)", n.Value+"s", n.Value+"ms")
		}
		return decodeError(n, fmt.Sprintf("%q is not a duration", n.Value), hint)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// MarshalText writes the duration as a string (JSON and text encoders).
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// hintMark separates a decode problem's message from its fix in the
// strings of a *yaml.TypeError (decodeError, decodeProblems).
const hintMark = "\x00fix: "

// decodeError records a bad value at n as a *yaml.TypeError, the one error
// type the decoder collects instead of stopping at. The line and column
// let decodeProblems name the value's field path.
func decodeError(n *yaml.Node, msg, hint string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: column %d: %s%s%s", n.Line, n.Column, msg, hintMark, hint)}}
}

// kindName names a YAML node kind for messages.
func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}
