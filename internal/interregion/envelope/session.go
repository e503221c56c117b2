package envelope

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/pki"
)

// HeaderMAC holds an envelope's session MAC (HMAC-SHA256 under the
// connection's [SessionKey]), base64url without padding. A request carries
// either HeaderMAC or HeaderSignature with HeaderCertificate, never both.
const HeaderMAC = "Meridian-Link-Mac"

// ExporterLabel is the TLS exporter label (RFC 8446 section 7.5) of the
// session key. It names its one use, so no other exported key can equal it.
const ExporterLabel = "EXPORTER-meridian-link-envelope"

// macContext is prefixed to the payload under the MAC: a session MAC is
// never valid for anything else keyed the same way.
const macContext = "meridian link envelope mac v1\x00"

// SessionKey is the key that seals envelopes on one link connection: 32
// bytes exported from its TLS 1.3 session. Both ends derive the same key;
// nobody else can, and no other connection has it.
type SessionKey [32]byte

// SessionKeyFrom exports the session key of a TLS connection, on either
// end. The connection must have completed a TLS 1.3 handshake (the link
// refuses older versions, and a TLS 1.2 exporter is not bound to the
// handshake without extended master secret).
func SessionKeyFrom(cs *tls.ConnectionState) (SessionKey, error) {
	var k SessionKey
	if cs == nil || !cs.HandshakeComplete {
		return k, errors.New("session key: no completed TLS handshake")
	}
	if cs.Version != tls.VersionTLS13 {
		return k, fmt.Errorf("session key: TLS version %#04x, want TLS 1.3", cs.Version)
	}
	b, err := cs.ExportKeyingMaterial(ExporterLabel, nil, len(k))
	if err != nil {
		return k, fmt.Errorf("session key: %w", err)
	}
	copy(k[:], b)
	return k, nil
}

// Prepared is an envelope encoded for sending but not yet sealed: the
// source prepares it before it knows which connection will carry the
// request, and seals it with that connection's key ([Prepared.MAC]) once
// it does. The zero value is not usable; use [Prepare].
type Prepared struct {
	payload []byte
	header  string
}

// Prepare encodes e for a session MAC. Like [Sign], it sets Version if it
// is zero, and Nonce, and refuses an incomplete envelope; IssuedAt must be
// set by the caller from its clock.
func Prepare(e Envelope) (Prepared, error) {
	e.prepare()
	if err := e.validate(); err != nil {
		return Prepared{}, fmt.Errorf("prepare envelope: %w", err)
	}
	payload, header, err := encodeB64(&e)
	if err != nil {
		return Prepared{}, fmt.Errorf("prepare envelope: %w", err)
	}
	return Prepared{payload: payload, header: header}, nil
}

// Header returns the value of [HeaderEnvelope].
func (p Prepared) Header() string { return p.header }

// MAC returns the value of [HeaderMAC] for sending p on the connection
// whose session key is k. A sender that keeps a [ConnKey] per connection
// uses [ConnKey.MAC], which is cheaper.
func (p Prepared) MAC(k *SessionKey) string {
	var sum [sha256.Size]byte
	return macHeader(mac(k, p.payload, sum[:0]))
}

// macHeader returns sum, a MAC, as the value of [HeaderMAC].
func macHeader(sum []byte) string {
	var b [macLen]byte
	base64.RawURLEncoding.Encode(b[:], sum)
	return string(b[:])
}

// macLen is the length of a [HeaderMAC] value.
const macLen = (sha256.Size*8 + 5) / 6

// Seal prepares e and seals it with k: [Prepare] then [Prepared.MAC].
func Seal(e Envelope, k *SessionKey) (Sealed, error) {
	p, err := Prepare(e)
	if err != nil {
		return Sealed{}, err
	}
	return Sealed{Envelope: p.header, MAC: p.MAC(k)}, nil
}

// mac appends HMAC-SHA256 under k of macContext followed by payload to dst
// (crypto/hmac: the link's integrity rests on the standard library's
// validated HMAC, not on one of its own).
func mac(k *SessionKey, payload, dst []byte) []byte {
	h := hmac.New(sha256.New, k[:])
	h.Write(macContextBytes)
	h.Write(payload)
	return h.Sum(dst)
}

// keyedMAC computes [mac] under one session key with HMAC states made
// once and reused: crypto/hmac's first Reset of a state stores the hashes
// of the key's inner and outer pads, and every later Reset and Sum
// restores them instead of hashing the pads again (FIPS 198-1, section 6,
// allows it). So a MAC costs the hashing of its message, without the two
// blocks of the key schedule and crypto/hmac's allocations. The result is
// the same bytes (TestKeyedMACMatchesMAC). The stored states are as
// secret as the key, and like it they belong to the [ConnKey] alone: a
// free list of its own, not a sync.Pool (whose per-processor arrays, for
// every connection, and whose hold across garbage collections the states
// do not need), freed with it.
type keyedMAC struct {
	key SessionKey

	mu sync.Mutex
	// free holds reset states keyed with key, at most maxFreeMACStates:
	// as many as the connection's requests that were sealed or verified
	// at once, which a burst may raise beyond what is worth keeping.
	free []*macState
}

// maxFreeMACStates bounds the states a connection keeps between
// requests (about 700 bytes each).
const maxFreeMACStates = 16

// macState is one keyed HMAC state and the buffer its Sum appends to
// (through the hash.Hash interface a caller's buffer would escape, and be
// allocated, on every call).
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// macContextBytes is macContext as the hash writes it (a conversion at
// the call would allocate: the bytes escape through hash.Hash).
var macContextBytes = []byte(macContext)

// sum returns the MAC under m.key of macContext followed by payload. It
// is safe for concurrent use (an HTTP/2 connection carries requests at
// once).
func (m *keyedMAC) sum(payload []byte) (out [sha256.Size]byte) {
	var s *macState
	m.mu.Lock()
	if n := len(m.free); n > 0 {
		s, m.free[n-1] = m.free[n-1], nil
		m.free = m.free[:n-1]
	}
	m.mu.Unlock()
	if s == nil {
		s = &macState{h: hmac.New(sha256.New, m.key[:])}
		s.h.Reset() // stores the keyed states, which later Resets restore
	}
	s.h.Write(macContextBytes)
	s.h.Write(payload)
	copy(out[:], s.h.Sum(s.sum[:0]))
	s.h.Reset()
	m.mu.Lock()
	if len(m.free) < maxFreeMACStates {
		m.free = append(m.free, s)
	}
	m.mu.Unlock()
	return out
}

// VerifyConnection checks a sealed envelope received on the TLS connection
// cs (the request's r.TLS), sealed either way: a session MAC is checked
// with the key of cs itself; a signature is checked as [Verifier.Verify]
// does, against the connection's client certificate. Every check after
// authentication is the same for both, in the order [Verifier.Verify]
// gives. A MAC that does not verify (made on another connection, or over
// other bytes) is [ReasonBadSignature]; a request carrying both a MAC and a
// signature is [ReasonMalformed].
func (v *Verifier) VerifyConnection(s Sealed, cs *tls.ConnectionState, body Digest, now time.Time) (*Envelope, error) {
	return v.VerifyConnectionKey(s, cs, nil, body, now)
}

// ConnKey holds the session key of one TLS connection once exported: a
// destination that keeps one per connection (in the connection's context)
// exports the key once, not once per request. It must only ever be given
// the state of the connection it belongs to. The zero value is ready.
//
// It also keeps the connection's HMAC states keyed (see keyedMAC), so that
// each request's MAC skips the key schedule: a source that holds one per
// connection seals with [ConnKey.MAC], and [Verifier.VerifyConnectionKey]
// checks with it.
type ConnKey struct {
	once sync.Once
	mac  keyedMAC // mac.key is the session key
	err  error

	// The identity of the connection's verified peer certificate, read
	// once: a TLS 1.3 connection's peer never changes.
	peerOnce sync.Once
	peer     *x509.Certificate
	peerID   pki.Identity
	peerErr  error
}

// Get returns the session key of cs, exported on the first call.
func (c *ConnKey) Get(cs *tls.ConnectionState) (SessionKey, error) {
	c.export(cs)
	return c.mac.key, c.err
}

// export exports the session key of cs on the first call.
func (c *ConnKey) export(cs *tls.ConnectionState) {
	c.once.Do(func() { c.mac.key, c.err = SessionKeyFrom(cs) })
}

// identity returns the identity of cert, the connection's peer
// certificate, read on the first call. It is read again, and not kept,
// for any certificate but the one it was first read from.
func (c *ConnKey) identity(cert *x509.Certificate) (pki.Identity, error) {
	c.peerOnce.Do(func() {
		c.peer = cert
		c.peerID, c.peerErr = pki.IdentityFromCertificate(cert)
	})
	if cert != c.peer {
		return pki.IdentityFromCertificate(cert)
	}
	return c.peerID, c.peerErr
}

// MAC returns the value of [HeaderMAC] for sending p on the connection
// whose state is cs, the one c belongs to: [Prepared.MAC] under the key
// of cs, exported on the first call, with the states of c.
func (c *ConnKey) MAC(p Prepared, cs *tls.ConnectionState) (string, error) {
	c.export(cs)
	if c.err != nil {
		return "", c.err
	}
	sum := c.mac.sum(p.payload)
	return macHeader(sum[:]), nil
}

// VerifyConnectionKey is [Verifier.VerifyConnection] with the session key
// of cs taken from ck, the connection's own (nil: exported from cs).
func (v *Verifier) VerifyConnectionKey(s Sealed, cs *tls.ConnectionState, ck *ConnKey, body Digest, now time.Time) (*Envelope, error) {
	var peer *x509.Certificate
	if cs != nil && cs.HandshakeComplete && len(cs.PeerCertificates) > 0 {
		peer = cs.PeerCertificates[0]
	}
	if s.MAC == "" {
		return v.Verify(s, peer, body, now)
	}
	if s.Signature != "" || s.Certificate != "" {
		return nil, &Error{ReasonMalformed, errors.New("both a session MAC and a signature")}
	}
	buf := payloadBuffers.Get().(*payloadBuffer)
	defer payloadBuffers.Put(buf)
	payload, err := decodePayload(buf, s.Envelope)
	if err != nil {
		return nil, &Error{ReasonMalformed, err}
	}
	var got [sha256.Size]byte
	if n, err := decodeMACHeader(got[:], s.MAC); err != nil || n != len(got) {
		if err == nil {
			err = fmt.Errorf("mac header: %d bytes, want %d", n, len(got))
		}
		return nil, &Error{ReasonMalformed, err}
	}
	if peer == nil {
		return nil, &Error{ReasonUnauthenticated, errors.New("no verified peer certificate (plain HTTP or no client certificate)")}
	}
	var peerID pki.Identity
	if ck != nil {
		peerID, err = ck.identity(peer)
	} else {
		peerID, err = pki.IdentityFromCertificate(peer)
	}
	if err != nil {
		return nil, &Error{ReasonUnauthenticated, err}
	}
	var want [sha256.Size]byte
	if ck != nil {
		ck.export(cs)
		if ck.err != nil {
			return nil, &Error{ReasonUnauthenticated, ck.err}
		}
		want = ck.mac.sum(payload)
	} else {
		key, err := SessionKeyFrom(cs)
		if err != nil {
			return nil, &Error{ReasonUnauthenticated, err}
		}
		copy(want[:], mac(&key, payload, nil))
	}
	if !hmac.Equal(want[:], got[:]) {
		return nil, &Error{ReasonBadSignature, fmt.Errorf("session MAC does not verify on this connection with %s", peerID)}
	}
	return v.check(payload, peerID, body, now)
}

// decodeMACHeader decodes s, a [HeaderMAC] value, into dst, which has
// room for a SHA-256 sum: a value is macLen characters of base64url without
// padding (the sum's 32 bytes), and a longer one is refused before it is
// decoded, with that limit. The caller checks that 32 bytes came out.
func decodeMACHeader(dst []byte, s string) (int, error) {
	if s == "" {
		return 0, errors.New("mac header is missing")
	}
	if len(s) > macLen {
		return 0, fmt.Errorf("mac header is %d bytes, limit %d", len(s), macLen)
	}
	// s is copied to the stack rather than converted (which allocates).
	var src [macLen]byte
	n, err := rawURLStrict.Decode(dst, src[:copy(src[:], s)])
	if err != nil {
		return 0, fmt.Errorf("mac header: %w", err)
	}
	return n, nil
}
