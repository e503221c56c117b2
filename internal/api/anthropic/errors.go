package anthropic

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/quota"
)

// HeaderRequestID is the header Anthropic's SDKs read a request's id from
// (the gateway's x-meridian-request-id carries the same value).
const HeaderRequestID = "request-id"

// Anthropic error types.
const (
	ErrInvalidRequest = "invalid_request_error"
	ErrAuthentication = "authentication_error"
	ErrPermission     = "permission_error"
	ErrNotFound       = "not_found_error"
	ErrTooLarge       = "request_too_large"
	ErrRateLimit      = "rate_limit_error"
	ErrAPI            = "api_error"
	ErrOverloaded     = "overloaded_error"
	ErrTimeout        = "timeout_error"
)

type errorDetail struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

type errorBody struct {
	Type      string      `json:"type"`
	Error     errorDetail `json:"error"`
	RequestID string      `json:"request_id,omitempty"`
}

// errorType maps an error kind to Anthropic's error type. The status is
// always the kind's, so that the status a client saw is the one its request
// record and audit event carry (Anthropic answers an overloaded_error with
// 529; the SDKs retry 503 alike).
func errorType(k inference.ErrorKind) string {
	switch k {
	case inference.KindInvalidRequest:
		return ErrInvalidRequest
	case inference.KindUnauthenticated:
		return ErrAuthentication
	case inference.KindPermissionDenied:
		return ErrPermission
	case inference.KindNotFound:
		return ErrNotFound
	case inference.KindPayloadTooLarge:
		return ErrTooLarge
	case inference.KindThrottled:
		return ErrRateLimit
	case inference.KindUnavailable:
		return ErrOverloaded
	case inference.KindTimeout:
		return ErrTimeout
	}
	return ErrAPI
}

// errorJSON is the body of an error response (with the request's id) or of
// an in-stream error event (requestID empty).
func errorJSON(e *inference.Error, requestID string) []byte {
	typ := errorType(e.Kind)
	msg := e.Message
	if e.Param != "" && !strings.Contains(msg, e.Param) {
		msg = e.Param + ": " + msg
	}
	b, _ := json.Marshal(errorBody{Type: "error", Error: errorDetail{Type: typ, Message: msg}, RequestID: requestID})
	return b
}

// writeError renders e in Anthropic's shape, with Retry-After and the
// anthropic-ratelimit-* headers of a rate-limit refusal.
func writeError(w http.ResponseWriter, e *inference.Error, now time.Time) {
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	rateHeaders(h, now)
	e.SetRetryAfter(h)
	writeJSON(w, e.Kind.Status(), errorJSON(e, h.Get(HeaderRequestID)))
}

func writeJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// Anthropic's rate-limit headers, after the x-ratelimit-* headers the
// gateway sets (OpenAI's convention): the same limits, with the reset as
// an RFC 3339 time instead of a duration.
var rateNames = [...][2]string{
	{quota.HeaderLimitRequests, "anthropic-ratelimit-requests-limit"},
	{quota.HeaderRemainingRequests, "anthropic-ratelimit-requests-remaining"},
	{quota.HeaderResetRequests, "anthropic-ratelimit-requests-reset"},
	{quota.HeaderLimitTokens, "anthropic-ratelimit-tokens-limit"},
	{quota.HeaderRemainingTokens, "anthropic-ratelimit-tokens-remaining"},
	{quota.HeaderResetTokens, "anthropic-ratelimit-tokens-reset"},
}

// rateHeaders rewrites the x-ratelimit-* headers of h into Anthropic's
// anthropic-ratelimit-* headers; now dates the resets.
func rateHeaders(h http.Header, now time.Time) {
	for i, n := range rateNames {
		v := h.Get(n[0])
		if v == "" {
			continue
		}
		h.Del(n[0])
		if i%3 == 2 {
			d, err := time.ParseDuration(v)
			if err != nil {
				continue
			}
			v = now.Add(d).UTC().Format(time.RFC3339)
		}
		h.Set(n[1], v)
	}
}
