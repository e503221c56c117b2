package bedrock

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Bedrock exception shape names. The SDK turns an x-amzn-ErrorType equal to
// one of these into the typed error of the same name (docs/bedrock.md, "Errors").
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
// plane) keeps it; otherwise the kind decides. The status is always the
// kind's, so that the status a client saw is the one its request record and
// audit event carry; it differs from Amazon Bedrock's in two places, which
// the SDK does not use to pick the exception type: authentication failures
// are 401 (AWS: 403) and ModelErrorException is 502 (AWS: 424).
func exceptionFor(e *inference.Error) exception {
	status := e.Kind.Status()
	switch e.Code {
	case ExcConflict:
		return exception{e.Code, http.StatusConflict} // as AWS: 409, whatever the kind
	case ExcUnrecognizedClient, ExcMissingAuthenticationTk, ExcAccessDenied, ExcTooManyTags:
		return exception{e.Code, status}
	}
	switch e.Kind {
	case inference.KindInvalidRequest, inference.KindPayloadTooLarge:
		return exception{ExcValidation, status}
	case inference.KindUnauthenticated:
		return exception{ExcUnrecognizedClient, status}
	case inference.KindPermissionDenied:
		return exception{ExcAccessDenied, status}
	case inference.KindNotFound:
		return exception{ExcResourceNotFound, status}
	case inference.KindTimeout:
		return exception{ExcModelTimeout, status}
	case inference.KindThrottled:
		return exception{ExcThrottling, status}
	case inference.KindUnavailable:
		return exception{ExcServiceUnavailable, status}
	case inference.KindUpstream:
		return exception{ExcModelError, status}
	}
	return exception{ExcInternalServer, status}
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

// Bounds of what an error quotes. Bedrock's modelId may be 2048 bytes
// long; messages quote at most maxQuoted bytes of any input, and a whole
// message is cut at maxMessageBytes, so that an error never echoes
// unbounded input (package auth's Truncate marks the cut).
const (
	maxModelIDBytes = 2048
	maxQuoted       = 256
	maxMessageBytes = 2048
)

type errorBody struct {
	Message string `json:"message"`
}

// writeError renders e as Bedrock does: x-amzn-ErrorType, the status of the
// shape, {"message"} and Retry-After for throttling.
func writeError(w http.ResponseWriter, e *inference.Error) {
	x := exceptionFor(e)
	h := w.Header()
	h.Set("X-Amzn-Errortype", x.Type)
	e.SetRetryAfter(w.Header())
	msg := e.Message
	if e.Kind == inference.KindNotFound {
		// The catalog points callers at the OpenAI listing
		// (internal/profile/resolve.go); a Bedrock caller lists with
		// ListInferenceProfiles.
		msg = strings.Replace(msg, "GET /v1/models lists", "ListInferenceProfiles (GET /inference-profiles) lists", 1)
	}
	writeJSON(w, x.Status, errorBody{Message: auth.Truncate(msg, maxMessageBytes)})
}

// NotFound answers a request under a Bedrock path (/model/...,
// /inference-profiles...) that the node's mux does not serve, as Bedrock
// answers an operation it does not know: 404, or 405 with Allow when allow
// names the methods the path is served with, x-amzn-ErrorType
// UnknownOperationException, and like every Bedrock answer a request id in
// X-Amzn-RequestId and x-request-id, which the SDK's error prints.
func NotFound(w http.ResponseWriter, r *http.Request, allow []string) {
	h := w.Header()
	id := h.Get(gateway.HeaderRequestID) // the node's, when it recorded the request
	if id == "" {
		id = telemetry.NewRequestID()
	}
	h.Set(HeaderRequestID, id)
	h.Set(gateway.HeaderRequestID, id)
	h.Set("X-Amzn-Errortype", "UnknownOperationException")
	method, path := inference.Clip(r.Method, 16), inference.Clip(r.URL.Path, inference.EchoLimit)
	if len(allow) > 0 {
		h.Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, errorBody{Message: "Method " + method + " is not allowed on " + path + "; use " + strings.Join(allow, " or ")})
		return
	}
	writeJSON(w, http.StatusNotFound, errorBody{Message: "No operation matches " + method + " " + path + pathHint(r.URL.Path)})
}

// pathHint names the base-URL mistake of a Bedrock client whose endpoint
// ends with /v1 (the Bedrock API has no version segment: its paths start
// at /model/ and /inference-profiles), or "".
func pathHint(path string) string {
	rest, ok := strings.CutPrefix(path, "/v1/")
	if !ok {
		return ""
	}
	if first, _, _ := strings.Cut(rest, "/"); first == "model" || first == "inference-profiles" {
		return "; Meridian serves the Bedrock API at the root of its address (/model/..., /inference-profiles): drop /v1 from the client's endpoint or base URL"
	}
	return ""
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

// unauthenticatedLimit is the refusal of a request whose client address
// has too many requests reading their bodies before they authenticate.
func unauthenticatedLimit() *inference.Error {
	return &inference.Error{Kind: inference.KindThrottled, RetryAfter: time.Second, Err: auth.ErrUnauthenticatedLimit,
		Message: "too many requests from this address are sending bodies before they authenticate; retry later, or sign X-Amz-Content-Sha256 so that the signature verifies before the body is sent"}
}

func invalid(format string) *inference.Error {
	return &inference.Error{Kind: inference.KindInvalidRequest, Message: format}
}
