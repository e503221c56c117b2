package translate

import (
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// maxErrorMessage bounds a backend error message carried to a client.
const maxErrorMessage = 1024

// BackendError is a backend's error response in no dialect: the HTTP status
// and the backend's message, so it can be shown in the client's dialect.
type BackendError struct {
	Status  int
	Message string
}

// ParseBackendError reads an error response body of a backend in dialect d.
// A body that does not parse yields the status text as message. The message
// is cut to 1 KiB at a rune boundary.
func ParseBackendError(d Dialect, status int, body []byte) BackendError {
	e := BackendError{Status: status}
	switch d {
	case OpenAI:
		var v openai.ErrorResponse
		if json.Unmarshal(body, &v) == nil {
			e.Message = v.Error.Message
		}
	case Anthropic:
		var v anthropic.ErrorResponse
		if json.Unmarshal(body, &v) == nil {
			e.Message = v.Error.Message
		}
	case Converse:
		var v converse.ErrorResponse
		if json.Unmarshal(body, &v) == nil {
			e.Message = v.Message
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	if len(e.Message) > maxErrorMessage {
		cut := maxErrorMessage
		for cut > 0 && !utf8.RuneStart(e.Message[cut]) {
			cut--
		}
		e.Message = e.Message[:cut] + "..."
	}
	return e
}

// RenderError returns e as an error body of dialect d, with the error type:
// OpenAI and Anthropic put it in the body; for Converse it is the
// X-Amzn-ErrorType header value (the body holds only the message).
func RenderError(d Dialect, e BackendError) (body []byte, errorType string) {
	switch d {
	case OpenAI:
		typ := openAIErrorType(e.Status)
		body, _ = json.Marshal(openai.NewErrorResponse(e.Message, typ, "", ""))
		return body, typ
	case Anthropic:
		typ := anthropicErrorType(e.Status)
		body, _ = json.Marshal(anthropic.ErrorResponse{Type: "error", Error: anthropic.ErrorBody{Type: typ, Message: e.Message}})
		return body, typ
	}
	typ := converseErrorType(e.Status)
	body, _ = json.Marshal(converse.ErrorResponse{Message: e.Message})
	return body, typ
}

func openAIErrorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status >= 500:
		return "server_error"
	}
	return "invalid_request_error"
}

func anthropicErrorType(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error"
	case status == http.StatusForbidden:
		return "permission_error"
	case status == http.StatusNotFound:
		return "not_found_error"
	case status == http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error"
	case status == http.StatusServiceUnavailable, status == 529:
		return "overloaded_error"
	case status >= 500:
		return "api_error"
	}
	return "invalid_request_error"
}

func converseErrorType(status int) string {
	switch {
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return "AccessDeniedException"
	case status == http.StatusNotFound:
		return "ResourceNotFoundException"
	case status == http.StatusTooManyRequests:
		return "ThrottlingException"
	case status == http.StatusServiceUnavailable, status == 529:
		return "ServiceUnavailableException"
	case status == 424:
		return "ModelErrorException"
	case status >= 500:
		return "InternalServerException"
	}
	return "ValidationException"
}

// StreamErrorType returns the in-stream error name of dialect d for a
// *StreamError: the Anthropic error event type, or the Converse
// :exception-type. OpenAI streams carry errors as an error chunk with the
// OpenAI error type.
func StreamErrorType(d Dialect, e *StreamError) string {
	status := http.StatusInternalServerError
	switch {
	case strings.Contains(e.Type, "overloaded"), strings.Contains(e.Type, "unavailable"):
		status = http.StatusServiceUnavailable
	case strings.Contains(e.Type, "rate_limit"), strings.Contains(e.Type, "throttl"):
		status = http.StatusTooManyRequests
	case strings.Contains(e.Type, "invalid_request"), strings.Contains(e.Type, "validation"):
		status = http.StatusBadRequest
	}
	switch d {
	case OpenAI:
		return openAIErrorType(status)
	case Anthropic:
		return anthropicErrorType(status)
	}
	switch status {
	case http.StatusServiceUnavailable:
		return converse.ExceptionServiceUnavailable
	case http.StatusTooManyRequests:
		return converse.ExceptionThrottling
	case http.StatusBadRequest:
		return converse.ExceptionValidation
	}
	return converse.ExceptionModelStreamError
}
