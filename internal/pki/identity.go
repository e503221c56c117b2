package pki

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DefaultTrustDomain is the trust domain used when none is configured.
const DefaultTrustDomain = "meridian"

// Identity is the name a node certificate proves: a region inside a trust
// domain. It is written as the URI spiffe://<trust-domain>/region/<region>.
type Identity struct {
	TrustDomain string
	Region      string
}

// String returns the identity as a SPIFFE ID, e.g.
// "spiffe://meridian/region/eu-west-1".
func (id Identity) String() string {
	return "spiffe://" + id.TrustDomain + "/region/" + id.Region
}

// URI returns the identity as a URL for a certificate's URI SAN.
func (id Identity) URI() *url.URL {
	return &url.URL{Scheme: "spiffe", Host: id.TrustDomain, Path: "/region/" + id.Region}
}

// Validate reports whether both parts are well-formed names: lower-case
// letters, digits, '-' and '.', not empty, at most 63 (region) or 255 (trust
// domain) bytes. The grammar keeps identities unambiguous inside a URI.
func (id Identity) Validate() error {
	if err := checkName("trust domain", id.TrustDomain, 255, true); err != nil {
		return err
	}
	return checkName("region", id.Region, 63, false)
}

func checkName(what, s string, maxLen int, dots bool) error {
	if s == "" {
		return fmt.Errorf("%w: %s is empty", ErrIdentity, what)
	}
	if len(s) > maxLen {
		return fmt.Errorf("%w: %s %q is longer than %d bytes", ErrIdentity, what, s, maxLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
		case c == '.' && dots:
		default:
			allowed := "a-z, 0-9 and '-'"
			if dots {
				allowed = "a-z, 0-9, '-' and '.'"
			}
			return fmt.Errorf("%w: %s %q: byte %q not allowed (use %s)", ErrIdentity, what, s, c, allowed)
		}
	}
	if s[0] == '-' || s[len(s)-1] == '-' || s[0] == '.' || s[len(s)-1] == '.' {
		return fmt.Errorf("%w: %s %q must start and end with a letter or digit", ErrIdentity, what, s)
	}
	return nil
}

// ParseIdentity parses a SPIFFE ID of the form
// spiffe://<trust-domain>/region/<region>. Anything else (another scheme,
// user info, port, query, fragment, extra path segments, upper case) is an
// error wrapping [ErrIdentity].
func ParseIdentity(s string) (Identity, error) {
	rest, ok := strings.CutPrefix(s, "spiffe://")
	if !ok {
		return Identity{}, fmt.Errorf("%w: %q is not a spiffe:// URI", ErrIdentity, s)
	}
	td, path, ok := strings.Cut(rest, "/")
	if !ok {
		return Identity{}, fmt.Errorf("%w: %q has no path", ErrIdentity, s)
	}
	region, ok := strings.CutPrefix(path, "region/")
	if !ok {
		return Identity{}, fmt.Errorf("%w: %q: path must be /region/<region>", ErrIdentity, s)
	}
	id := Identity{TrustDomain: td, Region: region}
	if err := id.Validate(); err != nil {
		return Identity{}, fmt.Errorf("parse identity %q: %w", s, err)
	}
	return id, nil
}

// IdentityFromCertificate returns the region identity named by cert's URI
// SANs. The certificate must carry exactly one spiffe:// URI SAN; a
// certificate with none or several is rejected, so one certificate can
// never speak for two regions. It does not verify the certificate's chain:
// call it on certificates that TLS (or [Store.VerifyPeer]) has verified.
func IdentityFromCertificate(cert *x509.Certificate) (Identity, error) {
	if cert == nil {
		return Identity{}, fmt.Errorf("%w: no certificate", ErrIdentity)
	}
	var found []string
	for _, u := range cert.URIs {
		if strings.EqualFold(u.Scheme, "spiffe") {
			found = append(found, u.String())
		}
	}
	switch len(found) {
	case 0:
		return Identity{}, fmt.Errorf("%w: certificate %q has no spiffe:// URI SAN", ErrIdentity, cert.Subject.CommonName)
	case 1:
		return ParseIdentity(found[0])
	default:
		return Identity{}, fmt.Errorf("%w: certificate %q has %d spiffe:// URI SANs, want 1", ErrIdentity, cert.Subject.CommonName, len(found))
	}
}

// PeerIdentity returns the identity of the client certificate of r. It is
// meaningful only on a server whose TLS configuration came from
// [Store.ServerTLSConfig], which has already verified the chain, the trust
// domain and that the region is accepted; ok is false for plain HTTP or a
// connection without a client certificate.
func PeerIdentity(r *http.Request) (id Identity, ok bool) {
	if r == nil || r.TLS == nil || !r.TLS.HandshakeComplete || len(r.TLS.PeerCertificates) == 0 {
		return Identity{}, false
	}
	id, err := IdentityFromCertificate(r.TLS.PeerCertificates[0])
	if err != nil {
		return Identity{}, false
	}
	return id, true
}

// PeerRegion returns the region of the node that sent r, as proved by its
// verified client certificate (see [PeerIdentity]).
func PeerRegion(r *http.Request) (region string, ok bool) {
	id, ok := PeerIdentity(r)
	return id.Region, ok
}

// PeerCertificate returns the verified leaf client certificate of r, or nil
// (see [PeerIdentity] for when it is meaningful). The envelope verifier needs
// it to check signatures.
func PeerCertificate(r *http.Request) *x509.Certificate {
	if r == nil || r.TLS == nil || !r.TLS.HandshakeComplete || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	return r.TLS.PeerCertificates[0]
}
