package quota

import (
	"net/http"
	"strconv"
	"time"

	"github.com/meridian-gateway/meridian/internal/header"
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

// The header names in canonical form, as http.Header keys them: computed
// once, so that setting them canonicalises nothing per request.
var (
	keyLimitRequests     = http.CanonicalHeaderKey(HeaderLimitRequests)
	keyRemainingRequests = http.CanonicalHeaderKey(HeaderRemainingRequests)
	keyResetRequests     = http.CanonicalHeaderKey(HeaderResetRequests)
	keyLimitTokens       = http.CanonicalHeaderKey(HeaderLimitTokens)
	keyRemainingTokens   = http.CanonicalHeaderKey(HeaderRemainingTokens)
	keyResetTokens       = http.CanonicalHeaderKey(HeaderResetTokens)
)

// SetHeaders sets the x-ratelimit-* headers of the limits s carries on h.
// All six values are formatted into one string and share one array of
// values (two allocations however many are set).
func (s Status) SetHeaders(h http.Header) {
	n := 0
	if s.Requests.Limit > 0 {
		n += 3
	}
	if s.Tokens.Limit > 0 {
		n += 3
	}
	if n == 0 {
		return
	}
	// Each meter's three values end at ends[i]. Any two meters fit in the
	// stack buffer (two counts of at most 16 digits and a reset of at most
	// 18 bytes each); were they longer, append would move to the heap.
	var buf [128]byte
	var ends [6]int
	b := s.Requests.append(buf[:0], ends[:3])
	b = s.Tokens.append(b, ends[3:])
	all := string(b)
	hb := header.NewBatch(h, n)
	set := func(m Meter, ends []int, start int, limit, remaining, reset string) {
		if m.Limit <= 0 {
			return
		}
		hb.Set(limit, all[start:ends[0]])
		hb.Set(remaining, all[ends[0]:ends[1]])
		hb.Set(reset, all[ends[1]:ends[2]])
	}
	set(s.Requests, ends[:3], 0, keyLimitRequests, keyRemainingRequests, keyResetRequests)
	set(s.Tokens, ends[3:], ends[2], keyLimitTokens, keyRemainingTokens, keyResetTokens)
}

// append appends m's limit, remaining and reset values to b and records
// where each ends in ends; with no limit it appends nothing (the three
// ends are len(b)).
func (m Meter) append(b []byte, ends []int) []byte {
	if m.Limit > 0 {
		b = strconv.AppendInt(b, m.Limit, 10)
		ends[0] = len(b)
		b = strconv.AppendInt(b, max(m.Remaining, 0), 10)
		ends[1] = len(b)
		b = appendReset(b, m.Reset)
	} else {
		ends[0], ends[1] = len(b), len(b)
	}
	ends[2] = len(b)
	return b
}

// FormatReset formats a reset duration as OpenAI does: "20ms", "1s",
// "6m0s", "1.5s" (Go duration syntax, millisecond precision, rounded up so
// that a client waiting that long finds capacity).
func FormatReset(d time.Duration) string {
	return string(appendReset(nil, d))
}

// appendReset appends FormatReset(d) to b: time.Duration's String of d
// rounded up to whole milliseconds, without its allocation.
func appendReset(b []byte, d time.Duration) []byte {
	if d <= 0 {
		return append(b, "0s"...)
	}
	ms := int64((d + time.Millisecond - 1) / time.Millisecond)
	if ms < 1000 {
		b = strconv.AppendInt(b, ms, 10)
		return append(b, "ms"...)
	}
	const msPerMinute, msPerHour = 60 * 1000, 60 * 60 * 1000
	if h := ms / msPerHour; h > 0 {
		b = strconv.AppendInt(b, h, 10)
		b = append(b, 'h')
	}
	if ms >= msPerMinute {
		b = strconv.AppendInt(b, ms%msPerHour/msPerMinute, 10)
		b = append(b, 'm')
	}
	b = strconv.AppendInt(b, ms%msPerMinute/1000, 10)
	if frac := ms % 1000; frac > 0 {
		// Three digits, trailing zeros dropped: .5, .25, .125.
		b = append(b, '.', byte('0'+frac/100))
		if frac%100 > 0 {
			b = append(b, byte('0'+frac/10%10))
			if frac%10 > 0 {
				b = append(b, byte('0'+frac%10))
			}
		}
	}
	return append(b, 's')
}
