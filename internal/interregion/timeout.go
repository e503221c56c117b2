package interregion

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/headerwait"
)

// The link client's time-outs run on ClientOptions.Clock, not on net/http's
// own timers, so that a test drives them with a manual clock: the
// connection's set-up (dial and TLS handshake) is bounded by a context the
// clock cancels (ConnectTimeout), and the wait for a response's headers by
// a timer armed once the request is written and stopped when the headers
// arrive (FirstByteTimeout). Callers see the errors net and net/http
// report for the same time-outs.

// linkTimeout is a time-out of the link, shaped as net's and net/http's
// own: a net.Error whose Timeout is true.
type linkTimeout struct {
	msg string
	// deadline: errors.Is(err, context.DeadlineExceeded), as net's dial
	// time-out.
	deadline bool
}

func (e *linkTimeout) Error() string   { return e.msg }
func (e *linkTimeout) Timeout() bool   { return true }
func (e *linkTimeout) Temporary() bool { return true }
func (e *linkTimeout) Is(target error) bool {
	return e.deadline && target == context.DeadlineExceeded
}

var (
	// errConnectTimeout is a dial or handshake that did not finish in
	// ConnectTimeout, as net reports a dial past its deadline.
	errConnectTimeout error = &linkTimeout{msg: "i/o timeout", deadline: true}
	// errFirstByteTimeout and errFirstByteTimeoutH2 are a response whose
	// headers did not arrive in FirstByteTimeout, as net/http's HTTP/1.1
	// and HTTP/2 clients report theirs.
	errFirstByteTimeout   error = &linkTimeout{msg: "net/http: timeout awaiting response headers", deadline: true}
	errFirstByteTimeoutH2 error = &linkTimeout{msg: "http2: timeout awaiting response headers"}
)

// dialAddr is the address of a dial that timed out, for its net.OpError.
type dialAddr struct{ network, addr string }

func (a dialAddr) Network() string { return a.network }
func (a dialAddr) String() string  { return a.addr }

// connectWithin runs dial with a context that clk cancels after d; a dial
// that failed because it did, fails with net's dial time-out.
func connectWithin[C net.Conn](ctx context.Context, clk clock.Clock, d time.Duration, network, addr string, dial func(context.Context) (C, error)) (C, error) {
	ctx, cancel := context.WithCancel(ctx)
	var fired atomic.Bool
	t := clk.AfterFuncTimer(d, func() {
		fired.Store(true)
		cancel()
	})
	c, err := dial(ctx)
	t.Stop()
	cancel()
	if err != nil && fired.Load() {
		err = &net.OpError{Op: "dial", Net: network, Addr: dialAddr{network, addr}, Err: errConnectTimeout}
	}
	return c, err
}

// dialFunc dials a link connection's TCP connection.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// connectDialer returns dial bounded by ConnectTimeout (d) on the client's
// clock.
func connectDialer(clk clock.Clock, d time.Duration, dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return connectWithin(ctx, clk, d, network, addr, func(ctx context.Context) (net.Conn, error) {
			return dial(ctx, network, addr)
		})
	}
}

// tlsDialer returns the dial of TLS link connections with cfg over dial:
// the connection and its handshake bounded together by ConnectTimeout (d)
// on the client's clock, the session key held by the linkConn under the
// TLS connection (dialLink). net/http's HTTP/2 takes a connection only as a
// *tls.Conn.
func tlsDialer(clk clock.Clock, d time.Duration, dial dialFunc, cfg *tls.Config) func(ctx context.Context, network, addr string) (*tls.Conn, error) {
	return func(ctx context.Context, network, addr string) (*tls.Conn, error) {
		return connectWithin(ctx, clk, d, network, addr, func(ctx context.Context) (*tls.Conn, error) {
			return dialLink(ctx, dial, network, addr, cfg)
		})
	}
}

// transportDialer adapts a TLS dial to http.Transport.DialTLSContext: a
// failed dial returns a nil net.Conn, not a nil *tls.Conn in a non-nil
// one.
func transportDialer(dial func(ctx context.Context, network, addr string) (*tls.Conn, error)) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
}

// offerHTTP2 returns a copy of cfg that offers HTTP/2, then HTTP/1.1, as
// net/http would, unless cfg names its protocols.
func offerHTTP2(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	if len(cfg.NextProtos) == 0 {
		cfg.NextProtos = []string{"h2", "http/1.1"}
	}
	return cfg
}

// roundTripWithin sends req with tr, its wait for the response's headers
// bounded by FirstByteTimeout on the lanes' clock. lane is set for a
// lane's transport, which reports the HTTP/2 client's time-out unless the
// peer answered in HTTP/1.1. On success it returns the cancel of the request's context,
// which the response body's Close calls.
func (l *lanes) roundTripWithin(tr http.RoundTripper, req *http.Request, lane bool) (*http.Response, context.CancelFunc, error) {
	ctx, cancel, wait := headerwait.Start(req.Context(), l.clock, l.firstByte)
	resp, err := tr.RoundTrip(req.WithContext(ctx))
	fired := wait.End()
	if err == nil && fired {
		// The headers came as the timer fired: the context is cancelled,
		// so the body would fail on its first read, after the gateway can
		// no longer fail over. One outcome, as net/http's own bound gives:
		// the time-out.
		resp.Body.Close()
		err = errFirstByteTimeout
	}
	if err != nil {
		cancel()
		if fired {
			err = errFirstByteTimeout
			if lane && !l.useHTTP1.Load() {
				err = errFirstByteTimeoutH2
			}
		}
		return nil, nil, err
	}
	return resp, cancel, nil
}
