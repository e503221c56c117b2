package inference

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ErrorKind classifies an error for clients and for failover decisions.
type ErrorKind uint8

// Error kinds. Front ends map each to their dialect's type and status.
const (
	KindInternal         ErrorKind = iota // 500
	KindInvalidRequest                    // 400
	KindUnauthenticated                   // 401
	KindPermissionDenied                  // 403
	KindNotFound                          // 404
	KindTimeout                           // 408 (model did not answer in time)
	KindPayloadTooLarge                   // 413
	KindThrottled                         // 429
	KindUnavailable                       // 503 (no healthy destination, upstream down)
	KindUpstream                          // 502 (upstream answered with an error)
)

var kindNames = [...]string{
	KindInternal:         "internal",
	KindInvalidRequest:   "invalid_request",
	KindUnauthenticated:  "unauthenticated",
	KindPermissionDenied: "permission_denied",
	KindNotFound:         "not_found",
	KindTimeout:          "timeout",
	KindPayloadTooLarge:  "payload_too_large",
	KindThrottled:        "throttled",
	KindUnavailable:      "unavailable",
	KindUpstream:         "upstream_error",
}

// String returns the kind's snake_case name, used in logs, metrics and audit.
func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Status returns the HTTP status that the kind maps to.
func (k ErrorKind) Status() int {
	switch k {
	case KindInvalidRequest:
		return http.StatusBadRequest
	case KindUnauthenticated:
		return http.StatusUnauthorized
	case KindPermissionDenied:
		return http.StatusForbidden
	case KindNotFound:
		return http.StatusNotFound
	case KindTimeout:
		return http.StatusRequestTimeout
	case KindPayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case KindThrottled:
		return http.StatusTooManyRequests
	case KindUnavailable:
		return http.StatusServiceUnavailable
	case KindUpstream:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// Retryable reports whether another destination may succeed where this one
// failed: throttling, unavailability, time-outs and upstream errors are;
// errors about the request itself are not.
func (k ErrorKind) Retryable() bool {
	switch k {
	case KindThrottled, KindUnavailable, KindTimeout, KindUpstream, KindInternal:
		return true
	}
	return false
}

// Error is an error that can reach a client. Message is safe to show to the
// caller; Err is the internal cause, for logs only.
type Error struct {
	Kind ErrorKind
	// Message is the public message.
	Message string
	// Code is an optional machine-readable code (OpenAI's error.code).
	Code string
	// Param names the request field at fault, when there is one.
	Param string
	// RetryAfter is how long the caller (or the router, for a backend) should
	// wait before trying again; zero when unknown.
	RetryAfter time.Duration
	// UpstreamStatus is the HTTP status a backend answered with, if any.
	UpstreamStatus int
	// Header holds extra response headers for the client, e.g. the
	// x-ratelimit-* headers of a quota rejection.
	Header http.Header
	// Unfit says the destination was not tried because it cannot carry
	// this request (a peer running an older Meridian, in a rolling
	// upgrade): the attempt fails over like any unavailable one, but it
	// says nothing of the deployment's health, and Message says why.
	//
	// With KindInvalidRequest it is a translation refusal: the request is
	// valid but this destination's deployment cannot express one of its
	// fields (translate.UnsupportedError, converted by package dialect), so
	// the gateway tries the next destination, blames none, and answers this
	// 400 only when every destination tried refused (see Refused). A 400 the
	// client caused (malformed, out of range) never sets it.
	Unfit bool
	// Err is the internal cause; never shown to clients.
	Err error
}

// Error implements error with the public message and the internal cause.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Kind, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Kind, e.Message)
}

// Refused reports a translation refusal: a valid request that this
// destination's deployment cannot carry, which another may (Unfit with
// KindInvalidRequest).
func (e *Error) Refused() bool { return e != nil && e.Unfit && e.Kind == KindInvalidRequest }

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// SetRetryAfter sets the Retry-After header from RetryAfter, rounded up to
// whole seconds (a client must not come back before capacity frees); it
// sets nothing when RetryAfter is zero.
func (e *Error) SetRetryAfter(h http.Header) {
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
	}
}

// Errorf returns an *Error of the given kind with a formatted public message.
func Errorf(kind ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error, wrapping anything else as KindInternal
// with a generic public message so that internal details never leak.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindInternal, Message: "internal error", Err: err}
}
