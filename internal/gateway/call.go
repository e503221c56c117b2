package gateway

import (
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/dispatch"
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
	// ServiceTier is the tier the caller asked for ([ReadServiceTier]);
	// the zero value asks for none (default, or what Request.ServiceTier
	// already says).
	ServiceTier RequestedTier
	// Receipt is true when the client asked for a residency receipt
	// (x-meridian-receipt: true, read by [WantsReceipt]).
	Receipt bool
}

// Attempt, Route and Outcome are the dispatch package's, so that the link
// (which returns outcomes of forwarded jobs) needs no import of this one.
type (
	// Attempt is one destination tried for a request.
	Attempt = dispatch.Attempt
	// Route explains where a request ran and why.
	Route = dispatch.Route
	// Outcome is a served request: exactly one of Response and Stream is
	// set. A Stream must be closed by the front end; closing it records
	// the request.
	Outcome = dispatch.Outcome
)
