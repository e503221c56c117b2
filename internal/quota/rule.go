package quota

import "time"

// Window is the length of the sliding window of the per-minute limits.
const Window = time.Minute

// Kind is the kind of a limit.
type Kind uint8

// Limit kinds.
const (
	RequestsPerMinute Kind = iota + 1 // requests in any rolling 60 s
	TokensPerMinute                   // tokens in any rolling 60 s
	Concurrency                       // requests in flight
	TokensPerDay                      // tokens in the current UTC calendar day
	TokensPerMonth                    // tokens in the current UTC calendar month
)

var kindNames = [...]string{
	RequestsPerMinute: "rpm",
	TokensPerMinute:   "tpm",
	Concurrency:       "max_concurrency",
	TokensPerDay:      "tokens_per_day",
	TokensPerMonth:    "tokens_per_month",
}

// String returns the kind's configuration key ("rpm", "tokens_per_day"...),
// used in errors, logs and metric labels.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// tokens reports whether the kind counts tokens (rather than requests).
func (k Kind) tokens() bool {
	return k == TokensPerMinute || k == TokensPerDay || k == TokensPerMonth
}

// Scope says whose limit a rule is.
type Scope uint8

// Scopes.
const (
	ScopePrincipal  Scope = iota + 1 // the principal's own limits
	ScopeModel                       // the principal's limits for one model
	ScopeProfile                     // the principal's limits for one profile
	ScopeDeployment                  // a deployment's capacity
	ScopeModelPool                   // the principal's limits for one model in one quota pool and source region
)

var scopeNames = [...]string{
	ScopePrincipal:  "principal",
	ScopeModel:      "model",
	ScopeProfile:    "profile",
	ScopeDeployment: "deployment",
	ScopeModelPool:  "model_pool",
}

// String returns the scope's name.
func (s Scope) String() string {
	if int(s) < len(scopeNames) && scopeNames[s] != "" {
		return scopeNames[s]
	}
	return "unknown"
}

// Caller reports whether the scope is one of the caller's own limits (as
// opposed to a deployment's capacity, which is the gateway's business).
func (s Scope) Caller() bool {
	return s == ScopePrincipal || s == ScopeModel || s == ScopeProfile || s == ScopeModelPool
}

// Rule is one limit to check at admission.
type Rule struct {
	// Key identifies the counter, e.g. "p/claims-service/m/demo.chat-small".
	// Rules of different kinds may share a key.
	Key   string
	Kind  Kind
	Limit int64
	// Scope and Name say whose limit it is, for errors and headers; stores
	// ignore them.
	Scope Scope
	Name  string
}

// Claim is what one admission asks a [Store] to check and hold.
type Claim struct {
	// ID names the reservation; unique per admission.
	ID    string
	Rules []Rule
	// Tokens is the number of tokens reserved in every token rule.
	Tokens int64
	// Lease bounds how long a concurrency slot is held if the reservation
	// is never settled (a replica that crashed mid-request).
	Lease time.Duration
	// Owner is the replica that made the claim (see [Options.DataDir]), or
	// empty. When set, ID starts with Owner + "/", and the store indexes
	// the claim's concurrency leases by owner so that
	// [Store.ReleaseLeases] can free them after the replica restarts.
	Owner string
}

// Outcome is a [Store]'s answer to a [Claim].
type Outcome struct {
	// Admitted is true when every rule passed and the claim was recorded.
	Admitted bool
	// Rules holds the state of each rule, in the claim's order.
	Rules []RuleState
	// Windows holds the calendar window of each rule (day or month
	// number; zero for other kinds), to pass back to Commit and Release.
	Windows []int64
}

// RuleState is the state of one rule at admission.
type RuleState struct {
	// Used is the amount in use: after the claim when admitted, before it
	// when rejected.
	Used int64
	// Reset is how long until the rule is back to its full limit
	// (nothing in its window), zero when nothing is in use.
	Reset time.Duration
	// Rejected is true when this rule refused the claim.
	Rejected bool
	// RetryAfter, for a rejecting rule, is how long until enough capacity
	// frees for the claim; positive.
	RetryAfter time.Duration
	// TooLarge, for a rejecting rule, means the claim exceeds the limit
	// itself and will never fit.
	TooLarge bool
}

// concurrencyRetry is the Retry-After of a full concurrency limit: a slot
// frees when any request in flight ends, which no store can predict. It is
// short so that a source node that forwarded into a full destination treats
// the refusal as a brief cooldown, not as an outage (routing opens a circuit
// for a Retry-After of a second or more); the HTTP header still says 1.
const concurrencyRetry = 250 * time.Millisecond

// dayWindow returns the UTC day number of t (days since 1970-01-01) and the
// time at which that day ends.
func dayWindow(t time.Time) (int64, time.Time) {
	u := t.UTC()
	start := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	return start.Unix() / 86400, start.AddDate(0, 0, 1)
}

// monthWindow returns the UTC month number of t (year*12 + month-1) and the
// time at which that month ends.
func monthWindow(t time.Time) (int64, time.Time) {
	u := t.UTC()
	start := time.Date(u.Year(), u.Month(), 1, 0, 0, 0, 0, time.UTC)
	return int64(u.Year())*12 + int64(u.Month()) - 1, start.AddDate(0, 1, 0)
}
