package bedrock

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// Bedrock exception shape names. The SDK turns an x-amzn-ErrorType equal to
// one of these into the typed error of the same name (bedrock-api.md §1).
const (
	ExcValidation              = "ValidationException"
	ExcAccessDenied            = "AccessDeniedException"
	ExcResourceNotFound        = "ResourceNotFoundException"
	ExcModelTimeout            = "ModelTimeoutException"
	ExcThrottling              = "ThrottlingException"
	ExcServiceUnavailable      = "ServiceUnavailableException"
	ExcInternalServer          = "InternalServerException"
	ExcModelError              = "ModelErrorException"
	ExcModelStreamError        = "ModelStreamErrorException"
	ExcConflict                = "ConflictException"
	ExcTooManyTags             = "TooManyTagsException"
	ExcUnrecognizedClient      = "UnrecognizedClientException"
	ExcMissingAuthenticationTk = "MissingAuthenticationTokenException"
)

// exception is how one error is rendered in Bedrock's dialect.
type exception struct {
	// Type is the shape name sent in x-amzn-ErrorType.
	Type   string
	Status int
}

// exceptionFor maps an error to its Bedrock exception. An *inference.Error
// whose Code names a Bedrock shape (set by authentication and the control
// plane) keeps it; otherwise the kind decides.
func exceptionFor(e *inference.Error) exception {
	switch e.Code {
	case ExcUnrecognizedClient, ExcMissingAuthenticationTk, ExcAccessDenied:
		// AWS answers authentication failures with 403.
		return exception{e.Code, http.StatusForbidden}
	case ExcConflict, ExcTooManyTags:
		return exception{e.Code, http.StatusBadRequest}
	}
	switch e.Kind {
	case inference.KindInvalidRequest:
		return exception{ExcValidation, http.StatusBadRequest}
	case inference.KindPayloadTooLarge:
		return exception{ExcValidation, http.StatusRequestEntityTooLarge}
	case inference.KindUnauthenticated:
		return exception{ExcUnrecognizedClient, http.StatusForbidden}
	case inference.KindPermissionDenied:
		return exception{ExcAccessDenied, http.StatusForbidden}
	case inference.KindNotFound:
		return exception{ExcResourceNotFound, http.StatusNotFound}
	case inference.KindTimeout:
		return exception{ExcModelTimeout, http.StatusRequestTimeout}
	case inference.KindThrottled:
		return exception{ExcThrottling, http.StatusTooManyRequests}
	case inference.KindUnavailable:
		return exception{ExcServiceUnavailable, http.StatusServiceUnavailable}
	case inference.KindUpstream:
		// Bedrock's "the model returned an error": 424, not retried.
		return exception{ExcModelError, http.StatusFailedDependency}
	}
	return exception{ExcInternalServer, http.StatusInternalServerError}
}

// streamException returns the event-stream exception member for an error
// that happens after the first event (invariant 3). invoke selects the
// InvokeModelWithResponseStream union, which also has modelTimeoutException.
func streamException(e *inference.Error, invoke bool) string {
	switch e.Kind {
	case inference.KindThrottled:
		return "throttlingException"
	case inference.KindUnavailable:
		return "serviceUnavailableException"
	case inference.KindInvalidRequest, inference.KindPayloadTooLarge:
		return "validationException"
	case inference.KindUpstream:
		return "modelStreamErrorException"
	case inference.KindTimeout:
		if invoke {
			return "modelTimeoutException"
		}
		return "modelStreamErrorException"
	}
	return "internalServerException"
}

type errorBody struct {
	Message string `json:"message"`
}

// writeError renders e as Bedrock does: x-amzn-ErrorType, the status of the
// shape, {"message"} and Retry-After for throttling.
func writeError(w http.ResponseWriter, e *inference.Error) {
	x := exceptionFor(e)
	h := w.Header()
	h.Set("X-Amzn-Errortype", x.Type)
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	writeJSON(w, x.Status, errorBody{Message: e.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		w.Header().Set("X-Amzn-Errortype", ExcInternalServer)
		http.Error(w, `{"message":"internal error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// authError maps an authentication failure to the exception AWS uses.
func authError(err error) *inference.Error {
	e := &inference.Error{Kind: inference.KindUnauthenticated, Message: err.Error(), Err: err}
	switch {
	case errors.Is(err, auth.ErrSigV4Missing), errors.Is(err, auth.ErrMissingCredentials):
		e.Code = ExcMissingAuthenticationTk
	case errors.Is(err, auth.ErrSigV4UnknownKey), errors.Is(err, auth.ErrInvalidCredentials):
		e.Code = ExcUnrecognizedClient
	default:
		// A signature that does not verify (or is expired, mis-scoped,
		// presigned) is a denial the SDK surfaces as *types.AccessDeniedException.
		e.Code = ExcAccessDenied
	}
	return e
}

func invalid(format string) *inference.Error {
	return &inference.Error{Kind: inference.KindInvalidRequest, Message: format}
}
