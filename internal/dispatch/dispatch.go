// Package dispatch holds the values that cross between the request path
// (package gateway) and whatever serves a job in a destination region: the
// local backends, or a peer node reached over the inter-region link
// (package interregion). It is a leaf: it declares types and one interface,
// performs no I/O, and imports neither the gateway nor any adapter, so that
// the link and the gateway both depend on it and never on each other (see
// docs/architecture.md, "Package map").
package dispatch

import (
	"context"
	"net/http"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/header"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// Job is one execution of a request in one destination region: what the
// local backend or the remote node needs to serve it.
type Job struct {
	RequestID         string
	Operation         string
	SourceRegion      string
	DestinationRegion string
	// ProfileID is the invoked profile id (or model id for a bare model).
	ProfileID  string
	ProfileARN string
	// Model is the logical model to run.
	Model     string
	Principal auth.Principal
	Request   *inference.Request
	// SourceIP and SecureTransport describe the client connection in the
	// source region; the destination's authorization re-check uses them so
	// it decides on the same context (they cross the link inside mTLS,
	// asserted by the authenticated source node).
	SourceIP        string
	SecureTransport bool
	// TraceParent is the W3C traceparent of the source's span for this
	// attempt ("" when the request is not traced). It crosses the link in
	// the signed envelope, so the destination's spans join the trace.
	TraceParent string
	// MaxQueueWait is the caller's own budget for waiting in the admission
	// queue (gateway.Call.MaxQueueWait); zero means the profile's budget.
	MaxQueueWait time.Duration
	// Reported is an output: an executor that runs the job on another node
	// sets it to that node's own account of its time, read from the
	// forwarded answer's headers (nil when the node sent none).
	Reported *Timing
	// Receipt asks the inference node for a residency receipt
	// (docs/receipts.md): the client's x-meridian-receipt: true, or its
	// principal's receipts: true.
	Receipt bool
	// OnReceipt, when set, is given the receipt that a forwarded stream's
	// inference region sent with the stream's end.
	OnReceipt func(token string)
}

// Executor runs jobs in one region: the local backends, or a peer node over
// the link.
type Executor interface {
	Complete(ctx context.Context, job *Job) (*inference.Response, error)
	// Stream returns once the first event is available; an error it returns
	// happened before any byte reached the client.
	Stream(ctx context.Context, job *Job) (inference.Stream, error)
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
	// Overhead is the time Meridian itself spent on the request; nil when
	// it was not measured.
	Overhead *Overhead
}

// Outcome is a served request: exactly one of Response and Stream is set.
// A Stream must be closed by its reader; closing it records the request.
type Outcome struct {
	Route    Route
	Response *inference.Response
	Stream   inference.Stream
	// Header holds extra response headers (the caller's x-ratelimit-*).
	Header http.Header
}

// Response headers on every inference response (docs/architecture.md,
// invariant 5), spelled canonically: SetHeaders uses them as http.Header
// keys as they are.
const (
	HeaderRequestID        = "X-Meridian-Request-Id"
	HeaderSourceRegion     = "X-Meridian-Source-Region"
	HeaderInferenceRegion  = "X-Meridian-Inference-Region"
	HeaderInferenceProfile = "X-Meridian-Inference-Profile"
	HeaderRoute            = "X-Meridian-Route"
	// HeaderOverhead is Overhead.Total in milliseconds (docs/performance.md,
	// "Overhead per request").
	HeaderOverhead = "X-Meridian-Overhead-Ms"
	// HeaderServerTiming is the W3C Server-Timing header, which carries
	// the overhead's parts and the upstream's time.
	HeaderServerTiming = "Server-Timing"
)

// SetHeaders writes the route's x-meridian-* headers. The fields share one
// array of values, and the overhead and Server-Timing values one string
// (two allocations with an overhead, one without).
func (r Route) SetHeaders(h http.Header) {
	hb := header.NewBatch(h, 7)
	hb.Set(HeaderRequestID, r.RequestID)
	hb.Set(HeaderSourceRegion, r.SourceRegion)
	if r.InferenceRegion != "" {
		hb.Set(HeaderInferenceRegion, r.InferenceRegion)
	}
	if r.ProfileID != "" {
		hb.Set(HeaderInferenceProfile, r.ProfileID)
	}
	if r.Reason != "" {
		hb.Set(HeaderRoute, r.Reason)
	}
	if o := r.Overhead; o != nil {
		var buf [160]byte
		b := buf[:0]
		if o.Known() {
			b = appendMs(b, o.Total())
		}
		total := len(b)
		all := string(o.appendServerTiming(b))
		if o.Known() {
			hb.Set(HeaderOverhead, all[:total])
		}
		hb.Set(HeaderServerTiming, all[total:])
	}
}
