package mockllm

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// windowSpan is the length of the sliding windows behind RPM and TPM.
const windowSpan = time.Minute

// OpenAI's rate-limit headers, sent on every chat completion response when
// the corresponding limit is set. The reset headers say how long until the
// window is empty again, in Go duration syntax ("1s", "6m0s", "250ms").
const (
	HeaderLimitRequests     = "X-Ratelimit-Limit-Requests"
	HeaderRemainingRequests = "X-Ratelimit-Remaining-Requests"
	HeaderResetRequests     = "X-Ratelimit-Reset-Requests"
	HeaderLimitTokens       = "X-Ratelimit-Limit-Tokens"
	HeaderRemainingTokens   = "X-Ratelimit-Remaining-Tokens"
	HeaderResetTokens       = "X-Ratelimit-Reset-Tokens"
)

// window is a sliding 60-second log of admitted requests and the tokens each
// was charged. It is safe for concurrent use.
type window struct {
	mu      sync.Mutex
	entries []windowEntry // oldest first
	base    uint64        // sequence number of entries[0]
	tokens  int           // sum of entries[i].tokens
}

type windowEntry struct {
	at     time.Time
	tokens int
}

// limits are the RPM and TPM a window enforces; zero means unlimited.
type limits struct{ rpm, tpm int }

func (l limits) any() bool { return l.rpm > 0 || l.tpm > 0 }

// prune forgets entries that have left the window. Callers hold w.mu.
func (w *window) prune(now time.Time) {
	i := 0
	for i < len(w.entries) && now.Sub(w.entries[i].at) >= windowSpan {
		w.tokens -= w.entries[i].tokens
		i++
	}
	if i > 0 {
		clear(w.entries[:i])
		w.entries = w.entries[i:]
		w.base += uint64(i)
	}
}

// admit charges a request of cost tokens at now, or refuses it with OpenAI's
// 429. On success it returns the entry's sequence number for [window.settle].
// Either way it sets the x-ratelimit-* headers on h.
func (w *window) admit(now time.Time, l limits, cost int, model string, h http.Header) (uint64, *apiError) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.prune(now)
	if l.rpm > 0 && len(w.entries) >= l.rpm {
		// Wait until enough of the oldest requests leave.
		wait := w.entries[len(w.entries)-l.rpm].at.Add(windowSpan).Sub(now)
		w.setHeaders(now, l, h)
		return 0, &apiError{
			status: http.StatusTooManyRequests, typ: "requests", code: "rate_limit_exceeded",
			reason: ReasonRequests, retryAfter: wait,
			message: fmt.Sprintf("Rate limit reached for %s in organization org-mockllm on requests per min (RPM): Limit %d, Used %d, Requested 1. Please try again in %s.",
				model, l.rpm, len(w.entries), formatReset(wait)),
		}
	}
	if l.tpm > 0 && w.tokens+cost > l.tpm {
		w.setHeaders(now, l, h)
		if cost > l.tpm {
			return 0, &apiError{
				status: http.StatusTooManyRequests, typ: "tokens", code: "rate_limit_exceeded",
				reason: ReasonTokens, retryAfter: windowSpan,
				message: fmt.Sprintf("Request too large for %s in organization org-mockllm on tokens per min (TPM): Limit %d, Requested %d. The input or output tokens must be reduced in order to run successfully.",
					model, l.tpm, cost),
			}
		}
		used, wait := w.tokens, time.Duration(0)
		for _, e := range w.entries {
			used -= e.tokens
			if used+cost <= l.tpm {
				wait = e.at.Add(windowSpan).Sub(now)
				break
			}
		}
		return 0, &apiError{
			status: http.StatusTooManyRequests, typ: "tokens", code: "rate_limit_exceeded",
			reason: ReasonTokens, retryAfter: wait,
			message: fmt.Sprintf("Rate limit reached for %s in organization org-mockllm on tokens per min (TPM): Limit %d, Used %d, Requested %d. Please try again in %s.",
				model, l.tpm, w.tokens, cost, formatReset(wait)),
		}
	}
	w.entries = append(w.entries, windowEntry{at: now, tokens: cost})
	w.tokens += cost
	w.setHeaders(now, l, h)
	return w.base + uint64(len(w.entries)-1), nil
}

// settle corrects the tokens charged to entry seq once the request knows
// what it produced. Entries that already left the window are ignored.
func (w *window) settle(seq uint64, tokens int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq < w.base || seq-w.base >= uint64(len(w.entries)) {
		return
	}
	e := &w.entries[seq-w.base]
	w.tokens += tokens - e.tokens
	e.tokens = tokens
}

// headers sets the x-ratelimit-* headers for the window's state at now.
func (w *window) headers(now time.Time, l limits, h http.Header) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.prune(now)
	w.setHeaders(now, l, h)
}

// reset forgets every entry.
func (w *window) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.base += uint64(len(w.entries))
	w.entries, w.tokens = nil, 0
}

// setHeaders writes the x-ratelimit-* headers. Callers hold w.mu and have
// pruned.
func (w *window) setHeaders(now time.Time, l limits, h http.Header) {
	var reset time.Duration
	if n := len(w.entries); n > 0 {
		reset = w.entries[n-1].at.Add(windowSpan).Sub(now)
	}
	if l.rpm > 0 {
		h[HeaderLimitRequests] = []string{strconv.Itoa(l.rpm)}
		h[HeaderRemainingRequests] = []string{strconv.Itoa(max(l.rpm-len(w.entries), 0))}
		h[HeaderResetRequests] = []string{formatReset(reset)}
	}
	if l.tpm > 0 {
		h[HeaderLimitTokens] = []string{strconv.Itoa(l.tpm)}
		h[HeaderRemainingTokens] = []string{strconv.Itoa(max(l.tpm-w.tokens, 0))}
		h[HeaderResetTokens] = []string{formatReset(reset)}
	}
}

// formatReset renders a duration as OpenAI's reset headers do ("1s",
// "6m0s", "20ms").
func formatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.Round(time.Millisecond).String()
}
