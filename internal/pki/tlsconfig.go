package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ServerTLSConfig returns the TLS configuration of a link listener: TLS 1.3
// only, this node's current certificate, and a client certificate required
// from every peer, verified against the current CA bundle, inside the trust
// domain, and naming a region for which accept returns true (the caller
// passes the regions of its topology). accept is called during handshakes,
// concurrently; it must not be nil.
//
// A refused peer fails the handshake with a [*PeerError] (also passed to
// StoreOptions.PeerRejected). Handlers read the verified peer with
// [PeerRegion] or [PeerCertificate]. Session tickets are disabled so every
// connection is verified against the current CA bundle and topology.
// NextProtos is left empty for net/http to fill in (h2, http/1.1).
func (s *Store) ServerTLSConfig(accept func(region string) bool) *tls.Config {
	if accept == nil {
		panic("pki: ServerTLSConfig: accept is nil")
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		// The chain is verified in VerifyConnection rather than by crypto/tls
		// so that a rotated CA bundle applies to the next handshake.
		ClientAuth: tls.RequireAnyClientCert,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cur.Load().cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, perr := s.verifyPeer(cs.PeerCertificates, x509.ExtKeyUsageClientAuth, true)
			if perr == nil && !accept(id.Region) {
				perr = &PeerError{Server: true, Reason: ReasonUnknownRegion, Peer: id,
					Err: fmt.Errorf("region %q is not in this node's topology", id.Region)}
			}
			return s.reject(perr)
		},
		SessionTicketsDisabled: true,
		Time:                   s.clock.Now,
	}
}

// ClientTLSConfig returns the TLS configuration for dialling the link
// listener of region: TLS 1.3 only, this node's current certificate as the
// client certificate, and the server's certificate verified against the
// current CA bundle, inside the trust domain, and naming exactly region.
// Use one configuration (and one http.Transport) per destination region.
//
// Host names are not checked: the region identity in the certificate's URI
// SAN replaces them, so nodes may be dialled by IP address. ServerName is
// set to region so that the server's certificate callback is always used.
// Set ForceAttemptHTTP2 on the transport to use HTTP/2.
func (s *Store) ClientTLSConfig(region string) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
		ServerName: region,
		// crypto/tls's verification uses a fixed root pool and host names;
		// VerifyConnection does the full verification instead, against the
		// current CA bundle and the region identity.
		InsecureSkipVerify: true,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return s.cur.Load().cert, nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, perr := s.verifyPeer(cs.PeerCertificates, x509.ExtKeyUsageServerAuth, false)
			if perr == nil && id.Region != region {
				perr = &PeerError{Reason: ReasonRegionMismatch, Peer: id,
					Err: fmt.Errorf("dialled region %q, server is %q", region, id.Region)}
			}
			if perr == nil {
				s.notePeer(region, cs.PeerCertificates)
			}
			return s.reject(perr)
		},
		Time: s.clock.Now,
	}
}

func (s *Store) reject(perr *PeerError) error {
	if perr == nil {
		return nil
	}
	if f := s.opts.PeerRejected; f != nil {
		f(perr)
	}
	return perr
}

// VerifyPeer verifies chain (leaf first) as a link client certificate: it
// must chain to the current CA bundle, be valid now, allow client
// authentication, and name a region in the store's trust domain. It
// returns the leaf's identity. The envelope verifier uses it for a signer
// certificate that differs from the connection's (during a rotation).
func (s *Store) VerifyPeer(chain []*x509.Certificate) (Identity, error) {
	id, perr := s.verifyPeer(chain, x509.ExtKeyUsageClientAuth, true)
	if perr != nil {
		return Identity{}, perr
	}
	return id, nil
}

func (s *Store) verifyPeer(chain []*x509.Certificate, usage x509.ExtKeyUsage, server bool) (Identity, *PeerError) {
	if len(chain) == 0 {
		return Identity{}, &PeerError{Server: server, Reason: ReasonNoCertificate, Err: errors.New("peer sent no certificate")}
	}
	opts := x509.VerifyOptions{
		Roots:       s.cur.Load().pool,
		CurrentTime: s.clock.Now(),
		KeyUsages:   []x509.ExtKeyUsage{usage},
	}
	if len(chain) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range chain[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	if _, err := chain[0].Verify(opts); err != nil {
		return Identity{}, &PeerError{Server: server, Reason: ReasonUntrusted, Err: err}
	}
	id, err := IdentityFromCertificate(chain[0])
	if err != nil {
		return Identity{}, &PeerError{Server: server, Reason: ReasonMalformedIdentity, Err: err}
	}
	if id.TrustDomain != s.td {
		return id, &PeerError{Server: server, Reason: ReasonTrustDomain, Peer: id,
			Err: fmt.Errorf("trust domain %q, want %q", id.TrustDomain, s.td)}
	}
	return id, nil
}
