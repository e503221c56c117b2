package quota

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// Errors callers branch on. Test with [errors.Is].
var (
	// ErrLimited is matched by every [*LimitError]: a limit refused the
	// request.
	ErrLimited = errors.New("quota limit exceeded")
	// ErrStoreUnavailable means the store could not be consulted and
	// on_store_error is fail_closed. The gateway answers 503 (or 429 with
	// a short Retry-After); it is not the caller's fault.
	ErrStoreUnavailable = errors.New("quota store unavailable")
	// ErrStoreRefused means the store answered but refused the operation
	// itself: an invalid claim, a script error. Retrying it fails again,
	// and it says nothing about the store's health: it never marks the
	// store down, and a settlement refused this way is logged and dropped.
	// Stores wrap it; the gateway answers 500.
	ErrStoreRefused = errors.New("quota store refused the operation")
	// ErrInvalidRequest is matched by every [*RequestError]: the request's
	// token counts are nonsense (negative).
	ErrInvalidRequest = errors.New("invalid quota request")
)

// RequestError refuses a [Request] whose token counts are nonsense, before
// anything is reserved.
type RequestError struct {
	// Field is "max_tokens" (the caller's) or "input_tokens" (the
	// gateway's estimate of the prompt).
	Field string
	// Value is the value refused.
	Value int64
}

// Error implements error.
func (e *RequestError) Error() string {
	return fmt.Sprintf("%s is %d; it must not be negative", e.Field, e.Value)
}

// Is reports whether target is [ErrInvalidRequest].
func (e *RequestError) Is(target error) bool { return target == ErrInvalidRequest }

// InferenceError returns the refusal as the error the front ends render: a
// negative max_tokens is the caller's mistake (400, naming the field); a
// negative prompt estimate is the gateway's (500).
func (e *RequestError) InferenceError() *inference.Error {
	if e.Field == "max_tokens" {
		return &inference.Error{Kind: inference.KindInvalidRequest, Message: "max_tokens must be a positive integer.", Code: "invalid_value", Err: e}
	}
	return &inference.Error{Kind: inference.KindInternal, Message: "The request could not be accounted for.", Err: e}
}

// LimitError is a rejection: the limit that refused a request, and when to
// retry. When several limits refuse, it names the one that frees last (or
// one the request can never fit), since the request needs them all.
type LimitError struct {
	// Scope and Name say whose limit it is: the principal id, or
	// "principal/model", "principal/profile", "principal/model/pool/
	// source-region", or the deployment key (with "/pool/source-region"
	// for a deployment's pool).
	Scope Scope
	Name  string
	Kind  Kind
	// Limit is the configured limit; Remaining what is left of it now.
	Limit     int64
	Remaining int64
	// Requested is what the request asked of this limit (1 request, or
	// its reserved tokens).
	Requested int64
	// ResetAt is when the limit is back to full (the end of the window or
	// calendar period), by the limiter's clock.
	ResetAt time.Time
	// RetryAfter is how long until enough capacity frees for this request;
	// always positive. For a full concurrency limit, which frees when any
	// request in flight ends, it is 1s.
	RetryAfter time.Duration
	// TooLarge means the request alone exceeds the limit (e.g. more tokens
	// than the tpm or daily budget); retrying the same request will not
	// help, so it renders as a refusal (400), not a throttle (429).
	TooLarge bool
	// Status holds the caller's rate-limit header values.
	Status Status
}

// Error implements error.
func (e *LimitError) Error() string {
	if e.TooLarge {
		return fmt.Sprintf("%s %q %s limit %d is smaller than the request (%d)", e.Scope, e.Name, e.Kind, e.Limit, e.Requested)
	}
	return fmt.Sprintf("%s %q %s limit %d exceeded (remaining %d, requested %d); retry after %s", e.Scope, e.Name, e.Kind, e.Limit, e.Remaining, e.Requested, e.RetryAfter)
}

// Is reports whether target is [ErrLimited].
func (e *LimitError) Is(target error) bool { return target == ErrLimited }

// Message returns the message for the client. It names the caller's own
// limits; a deployment's capacity is described without naming it.
func (e *LimitError) Message() string {
	if !e.Scope.Caller() {
		if e.TooLarge {
			return fmt.Sprintf("Request too large for the model's capacity: the request reserves %d tokens (prompt plus max_tokens); lower max_tokens.", e.Requested)
		}
		return fmt.Sprintf("The model is at capacity; retry after %ds.", retryAfterSeconds(e.RetryAfter))
	}
	what := "Rate limit"
	switch e.Kind {
	case TokensPerDay:
		what = "Daily token budget"
	case TokensPerMonth:
		what = "Monthly token budget"
	case Concurrency:
		what = "Concurrent request limit"
	}
	if e.Scope == ScopeModelPool {
		// Name is principal/model/pool/source-region: say which pool.
		if parts := strings.Split(e.Name, "/"); len(parts) >= 4 {
			what += " of the model's " + parts[len(parts)-2] + " quota pool from " + parts[len(parts)-1]
		}
	}
	if e.TooLarge {
		return fmt.Sprintf("Request too large: %s %s is %d, the request reserves %d tokens (prompt plus max_tokens); lower max_tokens.", what, e.Kind, e.Limit, e.Requested)
	}
	return fmt.Sprintf("%s reached (%s: limit %d, remaining %d, requested %d); retry after %ds.", what, e.Kind, e.Limit, e.Remaining, e.Requested, retryAfterSeconds(e.RetryAfter))
}

// InferenceError returns the rejection as the error that the front ends
// render: throttled (429; Bedrock ThrottlingException), with Retry-After.
// A request larger than a limit's whole window or period (TooLarge) will
// never be admitted, so retrying it after any delay is pointless: it is an
// invalid request (400; Bedrock ValidationException), without Retry-After,
// whose message names the limit and says to lower max_tokens.
func (e *LimitError) InferenceError() *inference.Error {
	if e.TooLarge {
		return &inference.Error{Kind: inference.KindInvalidRequest, Message: e.Message(), Code: "request_too_large", Err: e}
	}
	code := "rate_limit_exceeded"
	if e.Kind == TokensPerDay || e.Kind == TokensPerMonth {
		code = "insufficient_quota"
	}
	return &inference.Error{Kind: inference.KindThrottled, Message: e.Message(), Code: code, RetryAfter: e.RetryAfter, Err: e}
}

// SetHeaders sets Retry-After (whole seconds, at least 1) and the OpenAI
// x-ratelimit-* headers of e.Status on h.
func (e *LimitError) SetHeaders(h http.Header) {
	h.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(e.RetryAfter), 10))
	e.Status.SetHeaders(h)
}

// retryAfterSeconds rounds d up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// storeRetryAfter is the Retry-After of a request refused because the
// store is unavailable (fail_closed): the limiter probes it every second.
const storeRetryAfter = time.Second

// AsInferenceError returns an error of [Limiter.Admit] as the error the front
// ends render: a [*LimitError] as throttled (429; 400 when TooLarge), a
// [*RequestError] as invalid (400), [ErrStoreUnavailable] as unavailable
// (503, Retry-After 1s, the cause kept for logs only), [ErrStoreRefused] as
// internal (500). It returns nil for any other error (a cancelled context:
// the client is gone).
func AsInferenceError(err error) *inference.Error {
	var le *LimitError
	var re *RequestError
	switch {
	case errors.As(err, &le):
		return le.InferenceError()
	case errors.As(err, &re):
		return re.InferenceError()
	case errors.Is(err, ErrStoreRefused):
		return &inference.Error{Kind: inference.KindInternal, Message: "The request could not be accounted for.", Err: err}
	case errors.Is(err, ErrStoreUnavailable):
		return &inference.Error{Kind: inference.KindUnavailable, Message: "Rate limiting is temporarily unavailable; retry shortly.", RetryAfter: storeRetryAfter, Err: err}
	}
	return nil
}
