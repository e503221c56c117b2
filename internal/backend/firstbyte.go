package backend

import (
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// The wait for an upstream's response headers (FirstByteTimeout) runs on
// the backend's clock, not on net/http's Transport.ResponseHeaderTimeout,
// so that a test drives it with a manual clock as it drives the streams'
// idle time-out: a timer armed once the request is written (as net/http
// arms its own) cancels the request unless the headers arrived first. The
// caller sees the error net/http reports for its own time-out, a net.Error
// whose Timeout is true, which transportError and bedrockError map to a
// retryable KindTimeout (the gateway fails over, or answers 504 and
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
	ctx, cancel := context.WithCancel(req.Context())
	fb := &firstByteWait{clk: clk, d: d, cancel: cancel}
	fb.trace.WroteRequest = fb.wrote
	fb.trace.GetConn = fb.connecting
	resp, err := c.Do(req.WithContext(httptrace.WithClientTrace(ctx, &fb.trace)))
	fired := fb.end()
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

// firstByteWait bounds one request's wait for its response's headers: a timer
// on clk, armed when the request has been written, cancels the request's
// context, unless the headers arrived first.
type firstByteWait struct {
	trace  httptrace.ClientTrace
	clk    clock.Clock
	d      time.Duration
	cancel context.CancelFunc
	mu     sync.Mutex
	timer  clock.Timer
	gen    uint64 // the attempt the armed timer belongs to
	ended  bool   // Do returned
	fired  bool
}

// wrote arms the timer once the request is written (again, when net/http
// wrote it a second time, on another connection).
func (fb *firstByteWait) wrote(info httptrace.WroteRequestInfo) {
	if info.Err != nil {
		return
	}
	fb.mu.Lock()
	defer fb.mu.Unlock()
	if fb.ended {
		return
	}
	if fb.timer != nil {
		fb.timer.Stop()
	}
	fb.gen++
	gen := fb.gen
	fb.timer = fb.clk.AfterFuncTimer(fb.d, func() { fb.fire(gen) })
}

// connecting stops the timer while net/http gets a connection for another
// attempt (it retries a request that a reused connection dropped before
// answering): the wait starts again when that attempt's request is
// written. A timer of the earlier attempt that is already firing finds its
// attempt over and does nothing.
func (fb *firstByteWait) connecting(string) {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.gen++
	if fb.timer != nil {
		fb.timer.Stop()
	}
}

// fire cancels the request unless Do returned or the timer belongs to an
// earlier attempt (its callback may run after Stop: a clock runs callbacks
// outside its lock).
func (fb *firstByteWait) fire(gen uint64) {
	fb.mu.Lock()
	if fb.ended || gen != fb.gen {
		fb.mu.Unlock()
		return
	}
	fb.fired = true
	fb.mu.Unlock()
	fb.cancel()
}

// end stops the timer when Do returns, and reports whether it had fired.
func (fb *firstByteWait) end() bool {
	fb.mu.Lock()
	defer fb.mu.Unlock()
	fb.ended = true
	if fb.timer != nil {
		fb.timer.Stop()
	}
	return fb.fired
}
