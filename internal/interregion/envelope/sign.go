package envelope

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/meridian-gateway/meridian/internal/pki"
)

// signingContext is prefixed to the payload before hashing, so a link
// signature can never be confused with a signature the same key makes for
// anything else (TLS handshakes sign other, context-prefixed, data).
const signingContext = "meridian link envelope v1\x00"

// signingContextBytes is signingContext as the hash writes it (converted
// at the call, it would be allocated each time: it escapes through
// hash.Hash).
var signingContextBytes = []byte(signingContext)

func digest(payload []byte) []byte {
	h := sha256.New()
	h.Write(signingContextBytes)
	h.Write(payload)
	return h.Sum(nil)
}

// Sign seals e with the key of cert, the node's current link certificate
// (pki.Store.Certificate). It sets Version to [Version] if it is zero (a
// non-zero one in [MinVersion, Version] writes that version, for a peer
// that accepts no newer), and Nonce if it is zero;
// IssuedAt must be set by the caller from its clock. cert must name
// e.SourceRegion, so a node cannot sign for another region by mistake.
func Sign(e Envelope, cert *tls.Certificate) (Sealed, error) {
	if cert == nil || cert.Leaf == nil || len(cert.Certificate) == 0 {
		return Sealed{}, errors.New("sign envelope: certificate with Leaf required")
	}
	id, err := pki.IdentityFromCertificate(cert.Leaf)
	if err != nil {
		return Sealed{}, fmt.Errorf("sign envelope: %w", err)
	}
	if id.Region != e.SourceRegion {
		return Sealed{}, fmt.Errorf("sign envelope: source region %q, but the certificate is for %q", e.SourceRegion, id.Region)
	}
	key, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return Sealed{}, errors.New("sign envelope: private key cannot sign")
	}
	e.prepare()
	if err := e.validate(); err != nil {
		return Sealed{}, fmt.Errorf("sign envelope: %w", err)
	}
	payload, header, err := encodeB64(&e)
	if err != nil {
		return Sealed{}, fmt.Errorf("sign envelope: %w", err)
	}
	sig, err := key.Sign(rand.Reader, digest(payload), crypto.SHA256)
	if err != nil {
		return Sealed{}, fmt.Errorf("sign envelope: %w", err)
	}
	return Sealed{
		Envelope:    header,
		Signature:   base64.RawURLEncoding.EncodeToString(sig),
		Certificate: base64.RawURLEncoding.EncodeToString(cert.Certificate[0]),
	}, nil
}

// Checker runs the checks that need the receiver's own topology: that the
// profile named by e.ProfileARN, resolved in the receiver's topology,
// includes the receiver (else [ReasonProfileExcludesDestination] or
// [ReasonUnknownProfile]) and, for a geographic profile, that
// e.SourceRegion lies in its geography ([ReasonGeographyMismatch]). It
// returns nil to accept; refusals should be made with [Rejectf] (any other
// error counts as [ReasonCheckFailed]). It is called concurrently, only for
// envelopes whose signature, regions, freshness and body hash have been
// verified.
type Checker interface {
	CheckEnvelope(e *Envelope) error
}

// CheckerFunc adapts a function to [Checker].
type CheckerFunc func(e *Envelope) error

// CheckEnvelope calls f(e).
func (f CheckerFunc) CheckEnvelope(e *Envelope) error { return f(e) }

// VerifierOptions configures [NewVerifier].
type VerifierOptions struct {
	// Region is the receiving region. Required.
	Region string
	// Window is how far IssuedAt may be from the receiver's clock, either
	// way. If zero, 30s.
	Window time.Duration
	// ReplayCapacity bounds the replay cache; see [NewReplayCache]. If zero,
	// [DefaultReplayCapacity].
	ReplayCapacity int
	// Checker runs the topology checks. Required: use
	// CheckerFunc(func(*Envelope) error { return nil }) in tests that do
	// not need them.
	Checker Checker
	// VerifySigner verifies a signer certificate that differs from the TLS
	// peer's (the source rotated its certificate while a connection made
	// with the previous one is still open) and returns its identity. Pass
	// pki.Store.VerifyPeer. If nil, such envelopes are refused as
	// bad_signature.
	VerifySigner func(chain []*x509.Certificate) (pki.Identity, error)
}

// DefaultWindow is the freshness window used when VerifierOptions.Window
// is zero.
const DefaultWindow = 30 * time.Second

// Verifier checks envelopes arriving at one region. It is safe for
// concurrent use.
type Verifier struct {
	region       string
	window       time.Duration
	replay       *ReplayCache
	checker      Checker
	verifySigner func([]*x509.Certificate) (pki.Identity, error)
}

// NewVerifier returns a Verifier for opts.Region. It panics if Region or
// Checker is missing (programmer error).
func NewVerifier(opts VerifierOptions) *Verifier {
	if opts.Region == "" || opts.Checker == nil {
		panic("envelope: NewVerifier: Region and Checker are required")
	}
	w := opts.Window
	if w <= 0 {
		w = DefaultWindow
	}
	return &Verifier{
		region:       opts.Region,
		window:       w,
		replay:       NewReplayCache(w, opts.ReplayCapacity),
		checker:      opts.Checker,
		verifySigner: opts.VerifySigner,
	}
}

// Verify checks a sealed envelope received on a TLS connection whose
// verified client certificate is peer (pki.PeerCertificate(r)), for a
// request whose body hashes to body, at the receiver's time now. In order:
// well-formed headers (malformed); a peer certificate (unauthenticated);
// the signer certificate is the peer's, or verifies by VerifySigner with
// the same identity (bad_signature, region_mismatch); the signature
// (bad_signature); the envelope (malformed); source region equals the
// peer's region (region_mismatch); destination equals the receiver
// (wrong_destination); |now - IssuedAt| <= window (stale); body hash
// (body_hash); the [Checker]; and last the nonce, recorded only for an
// envelope that passed everything else (replay, replay_cache_full).
//
// It returns the verified envelope, or an [*Error]. A refusal made after
// the signature verified also returns the envelope (authentic, but refused),
// so the caller can log its request id, source and profile.
func (v *Verifier) Verify(s Sealed, peer *x509.Certificate, body Digest, now time.Time) (*Envelope, error) {
	buf := payloadBuffers.Get().(*payloadBuffer)
	defer payloadBuffers.Put(buf)
	payload, err := decodePayload(buf, s.Envelope)
	if err != nil {
		return nil, &Error{ReasonMalformed, err}
	}
	sig, err := decodeB64("signature", s.Signature, maxSignatureHeader)
	if err != nil {
		return nil, &Error{ReasonMalformed, err}
	}
	signerDER, err := decodeB64("certificate", s.Certificate, maxCertificateHeader)
	if err != nil {
		return nil, &Error{ReasonMalformed, err}
	}
	if peer == nil {
		return nil, &Error{ReasonUnauthenticated, errors.New("no verified peer certificate (plain HTTP or no client certificate)")}
	}
	peerID, err := pki.IdentityFromCertificate(peer)
	if err != nil {
		return nil, &Error{ReasonUnauthenticated, err}
	}

	signer := peer
	if !bytesEqual(signerDER, peer.Raw) {
		if signer, err = v.checkSigner(signerDER, peerID); err != nil {
			return nil, err
		}
	}
	pub, ok := signer.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, &Error{ReasonBadSignature, fmt.Errorf("signer key is %T, want ECDSA", signer.PublicKey)}
	}
	if !ecdsa.VerifyASN1(pub, digest(payload), sig) {
		return nil, &Error{ReasonBadSignature, fmt.Errorf("signature does not verify with the key of %s", peerID)}
	}
	return v.check(payload, peerID, body, now)
}

// check runs every check after authentication: the payload came from
// peerID (signature or connection MAC verified). A stale envelope is
// refused first, whatever else is wrong with it: it lies outside the
// replay window, so its nonce is not recorded. Every other envelope's
// nonce is recorded before any other check, so that an envelope refused
// for any reason (region mismatch, wrong destination, body hash, the
// checker's residency checks) is a replay when it is sent again: the
// destination judges, and audits, each envelope once (docs/audit.md,
// "Refusals at the destination"). A full replay cache does not hide
// another reason: that reason is returned, else replay_cache_full.
func (v *Verifier) check(payload []byte, peerID pki.Identity, body Digest, now time.Time) (*Envelope, error) {
	e, err := parse(payload)
	if err != nil {
		return nil, &Error{ReasonMalformed, err}
	}
	if d := now.Sub(e.IssuedAt); d > v.window || d < -v.window {
		return &e, &Error{ReasonStale, fmt.Errorf("issued at %s, %v from now, window ±%v", e.IssuedAt.UTC().Format(time.RFC3339Nano), d.Round(time.Millisecond), v.window)}
	}
	full := v.replay.Add(e.Nonce, now)
	if full != nil {
		if r, ok := ReasonOf(full); !ok || r != ReasonReplayCacheFull {
			return &e, full
		}
	}
	if e.SourceRegion != peerID.Region {
		return &e, &Error{ReasonRegionMismatch, fmt.Errorf("envelope source region %q, peer certificate region %q", e.SourceRegion, peerID.Region)}
	}
	if e.DestinationRegion != v.region {
		return &e, &Error{ReasonWrongDestination, fmt.Errorf("envelope destination region %q, this is %q", e.DestinationRegion, v.region)}
	}
	if subtle.ConstantTimeCompare(e.BodySHA256[:], body[:]) != 1 {
		return &e, &Error{ReasonBodyHash, errors.New("request body does not match the envelope's body_sha256")}
	}
	if err := v.checker.CheckEnvelope(&e); err != nil {
		if _, ok := ReasonOf(err); ok {
			return &e, err
		}
		return &e, &Error{ReasonCheckFailed, err}
	}
	if full != nil {
		return &e, full
	}
	return &e, nil
}

func (v *Verifier) checkSigner(der []byte, peerID pki.Identity) (*x509.Certificate, error) {
	if v.verifySigner == nil {
		return nil, &Error{ReasonBadSignature, errors.New("signer certificate differs from the peer certificate")}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, &Error{ReasonMalformed, fmt.Errorf("signer certificate: %w", err)}
	}
	id, err := v.verifySigner([]*x509.Certificate{cert})
	if err != nil {
		return nil, &Error{ReasonBadSignature, fmt.Errorf("signer certificate: %w", err)}
	}
	if id != peerID {
		return nil, &Error{ReasonRegionMismatch, fmt.Errorf("signer certificate is %s, peer certificate is %s", id, peerID)}
	}
	return cert, nil
}

func bytesEqual(a, b []byte) bool { return len(a) == len(b) && subtle.ConstantTimeCompare(a, b) == 1 }
