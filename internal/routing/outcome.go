package routing

import (
	"fmt"
	"time"
)

// OutcomeKind classifies how an attempt at a deployment ended.
type OutcomeKind uint8

// Outcome kinds.
const (
	// Success: the deployment answered; Outcome.TTFT is its time to first
	// token.
	Success OutcomeKind = iota
	// Throttled: 429; Outcome.RetryAfter is the Retry-After it sent, if any.
	Throttled
	// ServerError: 5xx before the first byte.
	ServerError
	// Timeout: no first byte within the attempt's deadline.
	Timeout
	// ConnectError: the deployment or the destination node was unreachable.
	ConnectError
	// Canceled: the client went away or the request itself was bad; says
	// nothing about the deployment's health.
	Canceled
)

var outcomeNames = [...]string{
	Success:      "success",
	Throttled:    "throttled",
	ServerError:  "server_error",
	Timeout:      "timeout",
	ConnectError: "connect_error",
	Canceled:     "canceled",
}

// String returns the kind's snake_case name, used as the cause label of
// meridian_failovers_total and in x-meridian-route ("failover:throttled:...").
func (k OutcomeKind) String() string {
	if int(k) < len(outcomeNames) {
		return outcomeNames[k]
	}
	return fmt.Sprintf("outcome(%d)", uint8(k))
}

// MarshalText implements [encoding.TextMarshaler].
func (k OutcomeKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Failure reports whether the kind counts against the deployment's health
// (error rate, circuit breaker).
func (k OutcomeKind) Failure() bool {
	return k == ServerError || k == Timeout || k == ConnectError
}

// Outcome is how an attempt ended, reported with [Tracker.Observe].
type Outcome struct {
	Kind OutcomeKind
	// TTFT is the deployment's time to first token, for Success. For a
	// forwarded request, leave out the link RTT if it is known.
	TTFT time.Duration
	// RetryAfter is the deployment's Retry-After for Throttled; zero means
	// none was sent and exponential back-off applies.
	RetryAfter time.Duration
}
