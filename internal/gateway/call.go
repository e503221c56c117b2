package gateway

import (
	"net/http"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// Operations name the API call in records and audit events.
const (
	OpChatCompletions               = "ChatCompletions"
	OpConverse                      = "Converse"
	OpConverseStream                = "ConverseStream"
	OpInvokeModel                   = "InvokeModel"
	OpInvokeModelWithResponseStream = "InvokeModelWithResponseStream"
	OpListModels                    = "ListModels"
	OpListInferenceProfiles         = "ListInferenceProfiles"
	OpGetInferenceProfile           = "GetInferenceProfile"
	OpCreateInferenceProfile        = "CreateInferenceProfile"
	OpDeleteInferenceProfile        = "DeleteInferenceProfile"
)

// Call is one inference request as a front end hands it to the gateway.
type Call struct {
	// RequestID is the id returned in x-meridian-request-id.
	RequestID string
	// Operation is the API call, e.g. OpChatCompletions.
	Operation string
	Principal auth.Principal
	Request   *inference.Request
	SourceIP  string
	UserAgent string
	// SecureTransport is true when the client connection used TLS.
	SecureTransport bool
	// Received is when the request arrived.
	Received time.Time
	// MaxQueueWait lowers the admission queue's wait budget for this call
	// (the x-meridian-max-queue-wait header, read by [MaxQueueWait]): zero
	// keeps the configured budget, [NoQueueWait] does not wait at all.
	MaxQueueWait time.Duration
}

// Attempt is one destination tried for a request.
type Attempt struct {
	Region   string        `json:"region"`
	Outcome  string        `json:"outcome"` // "ok" or an error kind
	Status   int           `json:"status,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Route explains where a request ran and why. Front ends copy it into the
// x-meridian-* response headers.
type Route struct {
	RequestID       string
	SourceRegion    string
	InferenceRegion string
	// ProfileID is the profile id, or the model id for a bare model call.
	ProfileID  string
	ProfileARN string
	Model      string
	// Reason is the short route reason, e.g. "local", "nearest",
	// "failover:throttled:eu-central-1".
	Reason   string
	Attempts []Attempt
}

// Outcome is a served request: exactly one of Response and Stream is set.
// A Stream must be closed by the front end; closing it records the request.
type Outcome struct {
	Route    Route
	Response *inference.Response
	Stream   inference.Stream
	// Header holds extra response headers (the caller's x-ratelimit-*).
	Header http.Header
}
