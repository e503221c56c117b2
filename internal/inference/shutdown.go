package inference

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrShutdown is the cause a node cancels its requests' contexts with when
// its drain timeout passes with requests still in flight
// (internal/node/node.go, drainCut). A backend whose call ends because of
// that cancellation reports ShutdownError, not the model's time-out or an
// upstream failure: the model did nothing wrong, the node stopped.
var ErrShutdown = errors.New("the node is shutting down")

// CodeShutdown is the error code of a request the shutdown cut: the
// answer's code (OpenAI's error.code, a stream's error event) and the audit
// event's errorCode.
const CodeShutdown = "shutdown"

// ShutdownMessage is the public message of a request the shutdown cut.
const ShutdownMessage = "the node is shutting down (its drain timeout passed before this request was answered); retry the request"

// ShutdownRetryAfter is the Retry-After of the shutdown answer: the request
// may be sent again at once, to another node (load balancers stopped
// sending work here when readiness turned 503).
const ShutdownRetryAfter = time.Second

// ShutdownError is the error of a request cut by its node's shutdown; err
// is the failure the cut caused (a read or a send that was cancelled).
func ShutdownError(err error) *Error {
	return &Error{Kind: KindUnavailable, Message: ShutdownMessage, Code: CodeShutdown, RetryAfter: ShutdownRetryAfter, Err: err}
}

// shutdownFlagKey is the context key of WithShutdownFlag's flag.
type shutdownFlagKey struct{}

// WithShutdownFlag returns ctx carrying cut, which the node sets when its
// drain cuts the requests in flight. Unlike a cancellation's cause, a
// value reaches contexts detached from the request (internal/detach: a
// backend call that must outlive a hang-up until it is told otherwise).
func WithShutdownFlag(ctx context.Context, cut *atomic.Bool) context.Context {
	return context.WithValue(ctx, shutdownFlagKey{}, cut)
}

// CutByShutdown reports whether ctx ended because its node's shutdown cut
// it: ctx is done and its cause is ErrShutdown, or the node's flag
// (WithShutdownFlag) says the cut happened.
func CutByShutdown(ctx context.Context) bool {
	if ctx.Err() == nil {
		return false
	}
	if errors.Is(context.Cause(ctx), ErrShutdown) {
		return true
	}
	cut, _ := ctx.Value(shutdownFlagKey{}).(*atomic.Bool)
	return cut != nil && cut.Load()
}
