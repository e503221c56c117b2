package ui

import (
	"fmt"

	"github.com/meridian-gateway/meridian/internal/auth"
)

// Action is an operator action on a demo region's simulated backends.
type Action uint8

// Actions. The zero value is normal operation.
const (
	// ActionRestore returns the region's backends to normal.
	ActionRestore Action = iota
	// ActionDown makes every backend of the region answer 503.
	ActionDown
	// ActionThrottle makes every backend of the region answer 429 with a
	// Retry-After.
	ActionThrottle
)

var actionNames = [...]string{ActionRestore: "normal", ActionDown: "down", ActionThrottle: "throttled"}

// String returns "normal", "down" or "throttled".
func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return fmt.Sprintf("action(%d)", uint8(a))
}

// MarshalText implements [encoding.TextMarshaler].
func (a Action) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler] with [ParseAction].
func (a *Action) UnmarshalText(b []byte) error {
	v, err := ParseAction(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// ParseAction parses an action as the console sends it: "down",
// "throttle" (or "throttled"), "restore" (or "normal").
func ParseAction(s string) (Action, error) {
	switch s {
	case "down":
		return ActionDown, nil
	case "throttle", "throttled":
		return ActionThrottle, nil
	case "restore", "normal":
		return ActionRestore, nil
	}
	return 0, fmt.Errorf("unknown action %q (want down, throttle or restore)", auth.Truncate(s, 32))
}

// DemoControl acts on the demo's simulated backends. Only `meridian demo`
// provides one; a node without it serves no operator actions.
type DemoControl interface {
	// Operate applies an action to every backend of region. It returns
	// an error wrapping [ErrUnknownRegion] for a region not in the demo.
	Operate(region string, a Action) error
	// Actions returns each region's current action.
	Actions() map[string]Action
}
