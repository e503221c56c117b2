package quota

import (
	"net/http"
	"strconv"
	"time"
)

// Status is what the OpenAI rate-limit headers report for one admission or
// rejection: the caller's tightest requests-per-minute and tokens-per-minute
// limits (over the principal's, model's and profile's limits; a deployment's
// capacity is not the caller's limit and never appears).
type Status struct {
	Requests Meter
	Tokens   Meter
}

// Meter is one limit's header values. A zero Limit means the caller has no
// such limit and the headers are omitted.
type Meter struct {
	Limit     int64
	Remaining int64
	// Reset is how long until the limit is back to full.
	Reset time.Duration
}

// Header names, as OpenAI sends them.
const (
	HeaderLimitRequests     = "x-ratelimit-limit-requests"
	HeaderRemainingRequests = "x-ratelimit-remaining-requests"
	HeaderResetRequests     = "x-ratelimit-reset-requests"
	HeaderLimitTokens       = "x-ratelimit-limit-tokens"
	HeaderRemainingTokens   = "x-ratelimit-remaining-tokens"
	HeaderResetTokens       = "x-ratelimit-reset-tokens"
)

// SetHeaders sets the x-ratelimit-* headers of the limits s carries on h.
func (s Status) SetHeaders(h http.Header) {
	s.Requests.set(h, HeaderLimitRequests, HeaderRemainingRequests, HeaderResetRequests)
	s.Tokens.set(h, HeaderLimitTokens, HeaderRemainingTokens, HeaderResetTokens)
}

func (m Meter) set(h http.Header, limit, remaining, reset string) {
	if m.Limit <= 0 {
		return
	}
	h.Set(limit, strconv.FormatInt(m.Limit, 10))
	h.Set(remaining, strconv.FormatInt(max(m.Remaining, 0), 10))
	h.Set(reset, FormatReset(m.Reset))
}

// FormatReset formats a reset duration as OpenAI does: "20ms", "1s",
// "6m0s", "1.5s" (Go duration syntax, millisecond precision, rounded up so
// that a client waiting that long finds capacity).
func FormatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return ((d + time.Millisecond - 1) / time.Millisecond * time.Millisecond).String()
}
