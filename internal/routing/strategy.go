package routing

import "fmt"

// Strategy is how [Route] orders the candidates that pass the filters.
// The zero value means "not set": [Config.Options] resolves it to the
// top-level strategy, and that to [LocalityFirst].
type Strategy uint8

// Strategies.
const (
	// StrategyUnset inherits the enclosing configuration's strategy.
	StrategyUnset Strategy = iota
	// LocalityFirst stays in the source region while it has headroom, and
	// otherwise picks by a score of headroom, expected TTFT and error rate
	// with power-of-two-choices, so that many nodes do not herd.
	LocalityFirst
	// LeastLoaded picks the destination with the most headroom.
	LeastLoaded
	// Latency picks the lowest expected TTFT (EWMA + RTT) among destinations
	// with headroom.
	Latency
	// Weighted picks at random in proportion to per-region weights.
	Weighted
)

var strategyNames = [...]string{
	StrategyUnset: "",
	LocalityFirst: "locality-first",
	LeastLoaded:   "least-loaded",
	Latency:       "latency",
	Weighted:      "weighted",
}

// Strategies lists the selectable strategies in documentation order.
func Strategies() []Strategy { return []Strategy{LocalityFirst, LeastLoaded, Latency, Weighted} }

// String returns the strategy's configuration name, e.g. "locality-first";
// StrategyUnset is "".
func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("strategy(%d)", uint8(s))
}

// ParseStrategy returns the strategy named name. The empty string is
// [StrategyUnset].
func ParseStrategy(name string) (Strategy, error) {
	for i, n := range strategyNames {
		if n == name {
			return Strategy(i), nil
		}
	}
	return StrategyUnset, fmt.Errorf("unknown strategy %q (known: locality-first, least-loaded, latency, weighted)", name)
}

// MarshalText implements [encoding.TextMarshaler].
func (s Strategy) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements [encoding.TextUnmarshaler]; YAML and JSON decoders
// use it.
func (s *Strategy) UnmarshalText(b []byte) error {
	v, err := ParseStrategy(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}
