package backend

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/headerwait"
)

// The wait for an upstream's response headers (FirstByteTimeout) runs on
// the backend's clock (internal/headerwait), not on net/http's
// Transport.ResponseHeaderTimeout, so that a test drives it with a manual
// clock as it drives the streams' idle time-out: a timer armed once the
// request is written (as net/http arms its own) cancels the request unless
// the headers arrived first. The caller sees the error net/http reports
// for its own time-out, a net.Error whose Timeout is true, which transportError and bedrockError map to a
// retryable KindTimeout (the gateway fails over, or answers 408 and
// ModelTimeoutException when no destination is left).

// firstByteTimeout is a response whose headers did not arrive within the
// first-byte time-out, shaped as net/http's ResponseHeaderTimeout error.
type firstByteTimeout struct{ d time.Duration }

func (e *firstByteTimeout) Error() string {
	return "timeout awaiting response headers (first_byte_timeout " + e.d.String() + ")"
}
func (e *firstByteTimeout) Timeout() bool   { return true }
func (e *firstByteTimeout) Temporary() bool { return true }

// Is makes errors.Is(err, context.DeadlineExceeded) hold, as for net's
// own time-outs.
func (e *firstByteTimeout) Is(target error) bool { return target == context.DeadlineExceeded }

// doer sends an HTTP request: an *http.Client, or the SDK's HTTPClient.
type doer interface {
	Do(*http.Request) (*http.Response, error)
}

// doWithin sends req with c, its wait for the response's headers bounded
// by d on clk. The request runs under a context of its own, req's child,
// which the returned response's Body.Close releases. A request whose
// headers did not arrive in time fails with a *url.Error around a
// *firstByteTimeout, as net/http's Client reports its own time-out.
func doWithin(c doer, req *http.Request, clk clock.Clock, d time.Duration) (*http.Response, error) {
	ctx, cancel, wait := headerwait.Start(req.Context(), clk, d)
	resp, err := c.Do(req.WithContext(ctx))
	fired := wait.End()
	if err == nil && fired {
		// The headers came as the timer fired: the context is cancelled,
		// so the body would fail on its first read. One outcome, as
		// net/http's own bound gives: the time-out.
		resp.Body.Close()
	}
	if err != nil || fired {
		cancel()
		if fired {
			err = &url.Error{Op: urlOp(req.Method), URL: req.URL.Redacted(), Err: &firstByteTimeout{d}}
		}
		return nil, err
	}
	resp.Body = &releasingBody{ReadCloser: resp.Body, release: cancel}
	return resp, nil
}

// urlOp is the Op of a *url.Error for method, as net/http's Client
// spells it ("Post").
func urlOp(method string) string {
	if method == "" {
		return "Get"
	}
	return method[:1] + strings.ToLower(method[1:])
}

// releasingBody is a response body whose Close also releases the context
// its request ran under (doWithin).
type releasingBody struct {
	io.ReadCloser
	release context.CancelFunc
}

// Close closes the body, then releases the request's context: after the
// body's end or its Close, net/http no longer needs it, so the connection
// goes back to the pool (or was closed) as it would without it.
func (b *releasingBody) Close() error {
	err := b.ReadCloser.Close()
	b.release()
	return err
}
