package auth

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
)

var (
	// ErrUnknownClientCertificate: the TLS client certificate verified
	// against the client CA but names no principal.
	ErrUnknownClientCertificate = errors.New("client certificate names no principal")
	// ErrClientCertificateUntrusted: the connection's client certificate
	// verified at the handshake but no longer chains to the current client
	// CA bundle (rotated since) or has expired.
	ErrClientCertificateUntrusted = errors.New("client certificate is no longer trusted by this listener's client CA bundle; reconnect with a certificate from a current CA")
)

// SetClientChainCheck installs a check of the connection's certificate
// chain against the listener's current client CA bundle, run on every
// request authenticated by a client certificate. A connection outlives a CA
// rotation; this keeps a removed CA from authenticating its requests. Call
// it before the listener serves.
func (a *Authenticator) SetClientChainCheck(check func(chain []*x509.Certificate) error) {
	a.chainCheck.Store(&check)
}

// ClientCertificate authenticates a verified TLS client certificate: its
// URI SANs, then its DNS SANs, then its subject common name are looked up in
// the principals' client_cert_subjects. The caller (the TLS listener) has
// already verified the chain against the configured client CA.
func (a *Authenticator) ClientCertificate(cert *x509.Certificate) (Principal, error) {
	var names []string
	for _, u := range cert.URIs {
		names = append(names, u.String())
	}
	names = append(names, cert.DNSNames...)
	if cert.Subject.CommonName != "" {
		names = append(names, cert.Subject.CommonName)
	}
	for _, n := range names {
		if p, ok := a.bySubject[n]; ok {
			out := *p
			sum := sha256.Sum256(cert.Raw)
			out.Method, out.KeyID = MethodMTLS, "cert-"+hex.EncodeToString(sum[:6])
			return out, nil
		}
	}
	return Principal{}, ErrUnknownClientCertificate
}

// Request authenticates an HTTP request by API key ("Authorization:
// Bearer" or "x-api-key"), or, when it carries none, by its verified TLS
// client certificate. On success it calls [Authenticated] with the
// request's context. It reads headers and the connection only, never the
// body.
func (a *Authenticator) Request(r *http.Request) (Principal, error) {
	p, err := a.request(r)
	if err == nil {
		Authenticated(r.Context())
	}
	return p, err
}

func (a *Authenticator) request(r *http.Request) (Principal, error) {
	if key := BearerKey(r); key != "" {
		return a.APIKey(key)
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.PeerCertificates) > 0 {
		if check := a.chainCheck.Load(); check != nil {
			if err := (*check)(r.TLS.PeerCertificates); err != nil {
				return Principal{}, fmt.Errorf("%w: %v", ErrClientCertificateUntrusted, err)
			}
		}
		return a.ClientCertificate(r.TLS.PeerCertificates[0])
	}
	return Principal{}, ErrMissingCredentials
}
