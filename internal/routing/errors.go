package routing

import "errors"

// Errors returned by the package. Test with [errors.Is].
var (
	// ErrNoCandidate means no destination may be tried for the request; the
	// plan's exclusions say why and [Plan.RetryAfter] when to come back.
	ErrNoCandidate = errors.New("routing: no candidate destination")
	// ErrQueueFull means the admission queue holds its maximum of waiters.
	ErrQueueFull = errors.New("routing: admission queue full")
	// ErrQueueTimeout means a waiter's deadline passed before capacity freed.
	ErrQueueTimeout = errors.New("routing: admission queue timeout")
	// ErrQueueHopeless means a waiter's predicted wait no longer fits what
	// is left of its budget: it leaves the queue early.
	ErrQueueHopeless = errors.New("routing: admission queue wait hopeless")
	// ErrUnknownDeployment means a [Key] names no deployment the tracker knows.
	ErrUnknownDeployment = errors.New("routing: unknown deployment")
	// ErrUnavailable means [Tracker.Start] refused an attempt: the deployment
	// is in cooldown, its circuit is open, or another request holds its probe.
	ErrUnavailable = errors.New("routing: deployment unavailable")
)
