package mockllm

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// Values of the HeaderThrottleReason header.
const (
	ReasonConcurrency = "concurrency" // MaxConcurrency requests were in flight
	ReasonRequests    = "requests"    // the RPM window was full
	ReasonTokens      = "tokens"      // the TPM window could not take the request
	ReasonManual      = "manual"      // an operator called [Server.SetThrottled]
	ReasonInjected    = "injected"    // FailRate drew a 429 FailStatus
)

// HeaderThrottleReason is set on every 429 the server sends, saying which
// limit refused the request (ReasonConcurrency, ReasonRequests,
// ReasonTokens, ReasonManual or ReasonInjected). Real providers do not send
// it; it lets tests tell the limits apart.
const HeaderThrottleReason = "X-Mockllm-Throttle-Reason"

// apiError is an error answered in OpenAI's shape:
// {"error":{"message","type","param","code"}}.
type apiError struct {
	status  int
	typ     string
	message string
	param   string // empty: null
	code    string // empty: null
	// retryAfter, when positive, is sent as Retry-After in whole seconds,
	// rounded up, and as retry-after-ms in milliseconds.
	retryAfter time.Duration
	// reason, when set, is sent as HeaderThrottleReason.
	reason string
}

// write sends e. Headers already set on w (x-ratelimit-*) are kept.
func (e *apiError) write(w http.ResponseWriter) {
	h := w.Header()
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(e.retryAfter), 10))
		h.Set("Retry-After-Ms", strconv.FormatInt(max(e.retryAfter.Milliseconds(), 1), 10))
	}
	if e.reason != "" {
		h.Set(HeaderThrottleReason, e.reason)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	type body struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	}
	b := body{Message: e.message, Type: e.typ}
	if e.param != "" {
		b.Param = &e.param
	}
	if e.code != "" {
		b.Code = &e.code
	}
	out, _ := json.Marshal(struct {
		Error body `json:"error"`
	}{b})
	w.Write(append(out, '\n'))
}

// retryAfterSeconds rounds d up to whole seconds, at least 1, as Retry-After
// can only say seconds and a client must not retry before capacity frees.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// errDown answers every /v1 request while the server is down.
var errDown = &apiError{status: http.StatusServiceUnavailable, typ: "server_error", code: "service_unavailable",
	message: "The server is down (simulated outage). Please try again later."}

// failure returns the injected (or outage) error for an HTTP status, with the
// message and type OpenAI uses for it.
func failure(status int, retryAfter time.Duration) *apiError {
	e := &apiError{status: status, typ: "server_error"}
	switch {
	case status == http.StatusTooManyRequests:
		e.typ, e.code, e.reason = "requests", "rate_limit_exceeded", ReasonInjected
		e.message = "Rate limit reached (simulated failure). Please try again in 1s."
		e.retryAfter = max(retryAfter, time.Second)
	case status == http.StatusServiceUnavailable:
		e.message = "The engine is currently overloaded, please try again later."
		e.retryAfter = retryAfter
	case status >= 500:
		e.message = "The server had an error while processing your request. Sorry about that!"
	default:
		e.typ = "invalid_request_error"
		e.message = "Simulated failure: " + http.StatusText(status) + "."
	}
	return e
}
