// Package backend holds the adapters that run inference: an OpenAI-compatible
// upstream (vLLM, Ollama, OpenAI, Azure OpenAI style), Amazon Bedrock, and an
// embedded simulated server for demos and tests. Every adapter speaks the
// canonical model of package inference and maps upstream failures to typed
// *inference.Error values carrying Retry-After, so that routing can cool a
// deployment down and fail over.
//
// The waits an adapter bounds run on its Clock (a node's, or a test's
// manual one), not on net/http's own timers: the wait for an upstream's
// response headers (FirstByteTimeout, firstbyte.go), the silence of a
// stream (StreamIdleTimeout), the read of an error answer's body and the
// drain of an ended stream's. Only the connection's set-up
// (ConnectTimeout) is still the dialer's and the TLS handshake's own.
package backend

import (
	"context"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// DefaultStreamIdleTimeout is how long a stream may stay silent (after its
// response headers, or between two events) before the adapter gives up on
// it, when the deployment's stream_idle_timeout is unset. Model servers
// send tokens many times a second; a gap this long is a stall, and a
// stall before the first event fails over to another destination.
const DefaultStreamIdleTimeout = 15 * time.Second

// Backend runs inference for one deployment. Implementations are safe for
// concurrent use.
type Backend interface {
	// Complete runs a non-streaming request.
	Complete(ctx context.Context, req *inference.Request) (*inference.Response, error)
	// Stream runs a streaming request. It returns once the first event is
	// available, so an error it returns happened before any byte reached the
	// client and the caller may fail over.
	Stream(ctx context.Context, req *inference.Request) (inference.Stream, error)
	// Close releases idle connections and embedded servers.
	Close() error
}
