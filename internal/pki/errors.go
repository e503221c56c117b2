package pki

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors; test with [errors.Is].
var (
	// ErrIdentity means a certificate or string does not name a valid region
	// identity.
	ErrIdentity = errors.New("invalid region identity")
	// ErrKeyMismatch means a private key does not belong to the certificate
	// it was loaded with.
	ErrKeyMismatch = errors.New("private key does not match certificate")
	// ErrNoCertificate means a PEM file held no certificate.
	ErrNoCertificate = errors.New("no certificate found")
	// ErrInsecureDevLink means link.insecure_dev_link is set without the
	// --dev flag.
	ErrInsecureDevLink = errors.New("link.insecure_dev_link: true turns off mTLS and envelope checks between regions; it is for development only and needs `serve --dev`")
)

// Peer rejection reasons, the bounded label values of
// meridian_link_rejections_total for refusals made during the TLS handshake.
// The envelope package defines the reasons for refusals after it.
const (
	ReasonNoCertificate     = "no_certificate"
	ReasonUntrusted         = "untrusted_certificate"
	ReasonTrustDomain       = "trust_domain_mismatch"
	ReasonRegionMismatch    = "region_mismatch"
	ReasonUnknownRegion     = "unknown_region"
	ReasonMalformedIdentity = "malformed_identity"
	// ReasonExpired is [Store.CheckConnection]'s: a certificate of a
	// connection verified at its handshake has expired since. It is not a
	// handshake refusal: the link counts it as the envelope reason
	// unauthenticated.
	ReasonExpired = "certificate_expired"
)

// PeerError is the error a link TLS handshake fails with when the peer's
// certificate is refused. Reason is one of the Reason constants.
type PeerError struct {
	// Server is true when the error was raised by the server side, checking
	// a client certificate.
	Server bool
	Reason string
	// Peer is the identity the certificate claimed, when it could be read.
	Peer Identity
	Err  error
}

func (e *PeerError) Error() string {
	side := "server"
	if e.Server {
		side = "client"
	}
	if e.Peer.Region != "" {
		return fmt.Sprintf("link peer refused (%s certificate %s, %s): %v", side, e.Peer, e.Reason, e.Err)
	}
	return fmt.Sprintf("link peer refused (%s certificate, %s): %v", side, e.Reason, e.Err)
}

func (e *PeerError) Unwrap() error { return e.Err }

// OwnChainExpiredError is [Store.CheckConnection]'s refusal when this
// node's own certificate chain has expired: the peer's certificate is not
// at fault, this node needs a renewed one (see docs/security.md,
// "Certificate expiry").
type OwnChainExpiredError struct {
	CertFile string
	NotAfter time.Time
}

func (e *OwnChainExpiredError) Error() string {
	return fmt.Sprintf("this node's own link certificate chain (%s) expired at %s: install a renewed certificate; the peer's certificate is not at fault",
		e.CertFile, e.NotAfter.UTC().Format(time.RFC3339))
}
