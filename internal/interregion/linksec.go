package interregion

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// EnvelopeSigner seals every forwarded request's envelope. By default it
// seals with a MAC under the key of the TLS connection that carries the
// request ([envelope.SessionKey]): the connection is mutually authenticated
// by the node's certificate, so the MAC proves as much as a signature by
// that certificate's key, at a fraction of the cost (docs/security.md,
// "Why a session MAC").
type EnvelopeSigner struct {
	// Store holds the node's link certificate. It is used only with
	// SignWithCertificate.
	Store *pki.Store
	// SignWithCertificate seals with an ECDSA signature by the node's
	// current certificate instead, with the certificate in the request:
	// the format every version 2 receiver also accepts, and the one to
	// verify without the connection.
	SignWithCertificate bool
}

// SignForwarded implements Signer. With a session MAC, the MAC is computed
// once net/http has chosen the connection for req (its GotConn trace
// hook, which runs before anything of the request is written to that
// connection, again for each retry on another one), under the key that
// connection holds (linkConn: exported once per connection); the request
// it returns carries that hook. A connection without a TLS 1.3 session gets no MAC,
// and the destination refuses the request as malformed. A version 1
// envelope (for a peer not yet upgraded) is always signed.
func (s EnvelopeSigner) SignForwarded(req *http.Request, e envelope.Envelope) (*http.Request, error) {
	// A version 1 envelope goes to a node that predates the session MAC.
	if !s.macSealed(e) {
		if s.Store == nil {
			return nil, errors.New("no link certificate to sign the envelope with")
		}
		sealed, err := envelope.Sign(e, s.Store.Certificate())
		if err != nil {
			return nil, err
		}
		sealed.SetHeaders(req.Header)
		return req, nil
	}
	m, err := newMACTrace(e)
	if err != nil {
		return nil, err
	}
	m.seal(req.Header)
	return req.WithContext(httptrace.WithClientTrace(req.Context(), &m.trace)), nil
}

// macTrace seals a forwarded request with a session MAC: the envelope in
// its header (seal), the MAC added by its GotConn hook. The hook, the
// prepared envelope and both header values are one allocation.
type macTrace struct {
	trace httptrace.ClientTrace
	p     envelope.Prepared
	// h is the request's header (seal).
	h http.Header
	// vals are the envelope's and the MAC's values, which the header's
	// fields are slices of.
	vals [2]string
}

// macSealed reports whether s seals e with a session MAC (a macTrace),
// rather than with a certificate's signature.
func (s EnvelopeSigner) macSealed(e envelope.Envelope) bool {
	return !s.SignWithCertificate && (e.Version == 0 || e.Version >= 2)
}

func newMACTrace(e envelope.Envelope) (*macTrace, error) {
	p, err := envelope.Prepare(e)
	if err != nil {
		return nil, err
	}
	m := &macTrace{p: p}
	m.trace.GotConn = m.gotConn
	return m, nil
}

// seal writes the envelope into h, the header of the request whose
// context carries m.trace; the hook adds the MAC to it.
func (m *macTrace) seal(h http.Header) {
	m.h = h
	m.vals[0] = m.p.Header()
	h[envelope.HeaderEnvelope] = m.vals[0:1:1]
}

// gotConn is the GotConn hook: the MAC under the chosen connection's key.
func (m *macTrace) gotConn(info httptrace.GotConnInfo) {
	if mac, err := connMAC(info.Conn, m.p); err == nil {
		m.vals[1] = mac
		m.h[envelope.HeaderMAC] = m.vals[1:2:2]
	} else {
		delete(m.h, envelope.HeaderMAC) // a retry's connection without a key
	}
}

// connMAC returns the MAC of p for c, a connection net/http chose for a
// request, under the key its linkConn holds (exported on the connection's
// first request, with HMAC states keyed once), or, for a connection the
// link's dialers did not make (a test's transport), under its key
// exported now.
func connMAC(c net.Conn, p envelope.Prepared) (string, error) {
	if tc, ok := c.(*tls.Conn); ok {
		if lc, ok := tc.NetConn().(*linkConn); ok {
			return lc.mac(tc, p)
		}
	}
	sc, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return "", errors.New("session key: not a TLS connection")
	}
	cs := sc.ConnectionState()
	k, err := envelope.SessionKeyFrom(&cs)
	if err != nil {
		return "", err
	}
	return p.MAC(&k), nil
}

// linkConn is the network connection under each TLS connection the link
// client dials (the HTTP/1.1 pool's, the HTTP/2 lanes', the HTTP/1.1
// fallback's), and holds that connection's session key once exported, so
// that the source exports it once per connection, as the destination does
// (ConnContext), not once per request.
//
// The key lives in the connection itself rather than in a cache keyed by
// the connection: net/http hands the trace hook the *tls.Conn it got from
// the dialer (HTTP/2 requires a *tls.Conn, so that cannot be wrapped), and
// tls.Conn.NetConn returns what lies under it, this linkConn. So the key
// found for a connection is always the one exported from that
// connection's own TLS state (a retry on another connection finds that
// one's), and it is freed with the connection: there is no map to grow
// with closed connections, to clean up (weak pointers, runtime cleanups)
// or to lock, and no way for a key to outlive its connection and be found
// for another that reuses its address.
type linkConn struct {
	net.Conn
	once sync.Once
	// tls is the TLS connection over c whose key was exported: the only
	// one c's dialer made, and the only one the key is given for.
	tls *tls.Conn
	// cs is tls's state, read on its first request; key holds the key
	// exported from it (by its first MAC) and its keyed HMAC states.
	cs  tls.ConnectionState
	key envelope.ConnKey
	// exports counts the exports of the key (at most 1), for tests.
	exports atomic.Int32
}

// mac returns the MAC of p under the session key of tc, whose NetConn is
// c, exported on the first call. A dialer makes one TLS connection over a
// linkConn; a key asked for any other (which no dialer makes) is refused
// rather than given, and the request goes without a MAC, refused by the
// destination. Safe for concurrent use (an HTTP/2 lane's requests).
func (c *linkConn) mac(tc *tls.Conn, p envelope.Prepared) (string, error) {
	c.once.Do(func() {
		c.exports.Add(1)
		c.tls = tc
		c.cs = tc.ConnectionState()
	})
	if tc != c.tls {
		return "", errors.New("session key: asked for a TLS connection other than the one it was exported from")
	}
	return c.key.MAC(p, &c.cs)
}

// dialLink dials addr with dial and runs the TLS handshake with cfg over
// the connection, wrapped in a linkConn. It is the link client's dialer
// for TLS, bounded by ctx.
func dialLink(ctx context.Context, dial func(ctx context.Context, network, addr string) (net.Conn, error), network, addr string, cfg *tls.Config) (*tls.Conn, error) {
	raw, err := dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
	}
	tc := tls.Client(&linkConn{Conn: raw}, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return tc, nil
}

// EnvelopeVerifier refuses forwarded requests whose envelope does not
// verify, and returns the envelope otherwise: the destination acts only on
// what the source signed.
type EnvelopeVerifier struct {
	Verifier   *envelope.Verifier
	Rejections *envelope.Rejections
	Logger     *slog.Logger
	// Clock is the receiver's clock, which judges an envelope's age. If
	// nil, clock.Wall.
	Clock clock.Clock
}

// connKeyCtx is the context key of a link connection's *envelope.ConnKey.
type connKeyCtx struct{}

// ConnContext is the link server's http.Server.ConnContext: it gives each
// connection a place for its session key, which VerifyForwarded then
// exports once per connection instead of once per request.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKeyCtx{}, new(envelope.ConnKey))
}

// VerifyForwarded implements Verifier. A refusal made after the
// envelope's seal verified returns the envelope too (see
// envelope.Verifier.Verify), so that the destination can record it.
func (v EnvelopeVerifier) VerifyForwarded(r *http.Request, body []byte) (*envelope.Envelope, error) {
	ck, _ := r.Context().Value(connKeyCtx{}).(*envelope.ConnKey) // nil without ConnContext: exported per request
	env, err := v.Verifier.VerifyConnectionKey(envelope.FromHeaders(r.Header), r.TLS, ck, envelope.HashBody(body), clock.Or(v.Clock).Now())
	if err == nil && env.RequestMetadataSHA256 != "" {
		// The request metadata header, covered by the envelope's hash
		// (version 5), is refused here too, so that it is counted and logged.
		err = env.CheckRequestMetadata(r.Header.Get(envelope.HeaderRequestMetadata))
	}
	if err != nil {
		if v.Rejections != nil {
			v.Rejections.Envelope(err)
		}
		reason, _ := envelope.ReasonOf(err)
		peer, _ := pki.PeerRegion(r)
		if v.Logger != nil {
			// The request id is logged only from an authentic envelope.
			var id string
			if env != nil {
				id = env.RequestID
			}
			v.Logger.Warn("link request refused", "reason", reason.String(), telemetry.AttrPeer, peer,
				telemetry.AttrRequestID, id, telemetry.AttrError, err)
		}
		// An authentic envelope (refused after its seal verified) is
		// returned with the error: the destination records the refusal
		// (Refuser).
		return env, &inference.Error{Kind: inference.KindPermissionDenied, Code: "link_" + reason.String(),
			Message: "link request refused: " + reason.String(), Err: err}
	}
	return env, nil
}

// ProfileIDFromARN returns the profile or model id an ARN names (read
// without an allocation: the destination reads the envelope's ARN twice
// per forwarded request, in its topology check and for its job).
func ProfileIDFromARN(arn string) (string, error) {
	a, err := profile.ParseARN(arn)
	if err != nil {
		return "", err
	}
	return a.ID, nil
}

// TopologyChecker is the envelope's topology check against this node's
// own catalog (invariant 1): the profile must exist here, include this
// destination, and a geographic profile's source must lie in its geography.
func TopologyChecker(catalog func() *profile.Catalog) envelope.Checker {
	return envelope.CheckerFunc(func(e *envelope.Envelope) error {
		id, err := ProfileIDFromARN(e.ProfileARN)
		if err != nil {
			return envelope.Rejectf(envelope.ReasonMalformed, "profile ARN: %v", err)
		}
		cat := catalog()
		p, isProfile := cat.Get(id)
		if !isProfile && len(cat.Hosts(id)) == 0 {
			return envelope.Rejectf(envelope.ReasonUnknownProfile, "%s is not a profile or model here", id)
		}
		if isProfile && p.Geographic() && cat.Geography(e.SourceRegion) != p.Scope {
			return envelope.Rejectf(envelope.ReasonGeographyMismatch, "%s is bound to geography %s; source %s is in %s", id, p.Scope, e.SourceRegion, cat.Geography(e.SourceRegion))
		}
		if err := cat.CheckDestination(id, e.SourceRegion, e.DestinationRegion); err != nil {
			return envelope.Rejectf(envelope.ReasonProfileExcludesDestination, "%v", err)
		}
		return nil
	})
}
