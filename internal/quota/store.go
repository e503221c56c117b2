package quota

import (
	"context"
	"time"
)

// Store holds quota counters and shared routing state. [Memory] and [Redis]
// implement it with identical semantics; the shared test suite runs against
// both (Redis as one server and as a cluster). Implementations are safe for
// concurrent use.
//
// Every method that reads time uses the store's own clock: the injected
// [Clock] for [Memory], the server's TIME for [Redis], so that replicas whose
// clocks disagree still agree on windows, budgets and cooldowns.
//
// An error from a Store means the store could not be consulted (network,
// server down, context done), or, when it matches [ErrStoreRefused], that
// the store refused the operation itself (an invalid claim, a script error),
// which would fail again. A limit being exceeded is not an error but an
// [Outcome] with Admitted false.
//
// Stores validate what they are given: a claim whose tokens, limits or
// lease are out of bounds is refused, and an actual token count is clamped
// to 0..[MaxRequestTokens]; counters saturate rather than wrap and never go
// negative.
type Store interface {
	// Reserve checks every rule of c and, only if all pass, records c
	// against all of them, atomically. It reports the state of each rule.
	Reserve(ctx context.Context, c Claim) (Outcome, error)
	// Commit settles a reservation made by Reserve: actual tokens replace
	// the reserved ones in every token rule whose window still holds the
	// reservation, and concurrency leases are freed. windows is
	// Outcome.Windows of the Reserve call.
	Commit(ctx context.Context, c Claim, windows []int64, actual int64) error
	// Release undoes a reservation made by Reserve: the request slot, its
	// tokens and its concurrency leases are returned, as if it had never
	// been admitted.
	Release(ctx context.Context, c Claim, windows []int64) error
	// ReleaseLeases frees the concurrency leases of every claim of owner
	// ([Claim.Owner]) whose ID does not start with keep (the prefix of the
	// owner's current incarnation), and returns how many it freed: the
	// slots a previous incarnation of this replica held when it died.
	ReleaseLeases(ctx context.Context, owner, keep string) (int, error)

	// SetCooldown marks key as cooling down for d from now. A longer
	// cooldown already in place is kept.
	SetCooldown(ctx context.Context, key string, d time.Duration) error
	// Cooldowns returns the remaining cooldown of each of keys that is
	// cooling down; keys that are not are absent from the map.
	Cooldowns(ctx context.Context, keys []string) (map[string]time.Duration, error)
	// SetState stores value under key for ttl (for circuit states and
	// similar small shared facts). An empty value deletes the key.
	SetState(ctx context.Context, key, value string, ttl time.Duration) error
	// States returns the values of those of keys that are set and not
	// expired.
	States(ctx context.Context, keys []string) (map[string]string, error)

	// PutRecords sets fields of the durable record set name (for state
	// replicas share that must outlive restarts, e.g. application
	// profiles). Fields not given are kept. Records do not expire.
	PutRecords(ctx context.Context, name string, fields map[string]string) error
	// Records returns every field of the record set name.
	Records(ctx context.Context, name string) (map[string]string, error)

	// Ping reports whether the store answers.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// Clock tells the time. Tests inject a fake one; nil means the system clock.
type Clock interface {
	Now() time.Time
}
