// Package quota admits requests against exact limits: per principal (requests
// and tokens per minute, concurrent requests, daily and monthly token budgets,
// each optionally per model or per profile) and per deployment (the
// topology's capacity: max_concurrency, rpm, tpm).
//
// A [Limiter] checks every limit that applies to a request and reserves them
// all at once, or none: [Limiter.Admit] returns a [Reservation] that the
// caller settles exactly once, with [Reservation.Commit] when the response
// ends (the backend's real usage replaces the estimate) or
// [Reservation.Release] when the request failed or was cancelled before the
// backend did any work. A rejection is a [*LimitError] that names the limit
// and says when capacity frees.
//
// State lives in a [Store]: [Memory] for a single replica, [Redis] (one
// server or a Redis Cluster) for any number of replicas of one region, with
// identical semantics. The store also
// carries the small shared state that routing needs to agree on across
// replicas (deployment cooldowns and circuit states).
//
// Requests and tokens per minute use a sliding-window log, which is exact:
// in no rolling 60-second window does a key admit more than its limit.
// Budgets use UTC calendar days and months. See docs/quotas.md.
//
// Token arithmetic is bounded: negative counts are refused
// ([*RequestError]), reservations and commits saturate at
// [MaxRequestTokens], and counters never wrap or go negative, so no request
// can lower a caller's counters or break a store. A settlement the store
// refuses ([ErrStoreRefused]) is logged and dropped, never retried, and
// never marks the store down. With [Options.DataDir], a replica that
// restarts releases the concurrency slots its dead run held.
//
// The package does I/O only through its Store; it never logs a prompt, a
// completion or an API key.
package quota
