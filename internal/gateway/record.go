package gateway

import (
	"context"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// Record is everything known about a finished request: the source of
// metrics, the audit event and the live request feed.
type Record struct {
	RequestID string
	Operation string
	// Side is "source" for the node the client called, "destination" for a
	// node that served a forwarded request.
	Side            string
	PrincipalID     string
	AuthMethod      string
	KeyID           string
	SourceIP        string
	UserAgent       string
	SourceRegion    string
	InferenceRegion string
	ProfileID       string
	ProfileARN      string
	Model           string
	// Allowed is false when authorization denied the request; DenyReason
	// says why.
	Allowed    bool
	DenyReason string
	Route      string
	Attempts   []Attempt
	Status     int
	ErrorCode  string
	Usage      inference.Usage
	Stream     bool
	Started    time.Time
	Latency    time.Duration
	TTFT       time.Duration
	// Prompt and Completion are set only when content recording is on.
	Prompt     []inference.Message
	Completion string
}

// Recorder receives every finished request. The audit trail, the live view
// and tests implement it. Record is called exactly once per request, before
// the response is complete for non-streaming calls and when a stream ends.
// An error means the request could not be recorded; the gateway answers 429
// rather than serve unrecorded (invariant 4), when it still can.
type Recorder interface {
	Record(ctx context.Context, rec *Record) error
}

// Recorders fans a record out to several recorders; the first error wins,
// and every recorder is still called.
type Recorders []Recorder

// Record implements Recorder.
func (rs Recorders) Record(ctx context.Context, rec *Record) error {
	var first error
	for _, r := range rs {
		if err := r.Record(ctx, rec); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Admit asks every recorder that can refuse work.
func (rs Recorders) Admit() error {
	for _, r := range rs {
		if a, ok := r.(Admitter); ok {
			if err := a.Admit(); err != nil {
				return err
			}
		}
	}
	return nil
}
