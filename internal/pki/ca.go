package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// Certificate lifetimes used when the options leave them zero.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultNodeValidity = 90 * 24 * time.Hour
	// backdate is subtracted from NotBefore so that a peer whose clock is a
	// little behind accepts a certificate issued a moment ago.
	backdate = 5 * time.Minute
)

// CA is the link's certificate authority: a self-signed ECDSA P-256
// certificate whose URI SAN (spiffe://<trust-domain>) records the trust
// domain of every certificate it issues.
type CA struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// CAOptions configures [NewCA].
type CAOptions struct {
	// TrustDomain names the trust domain. If empty, [DefaultTrustDomain].
	TrustDomain string
	// ValidFor is the CA's lifetime. If zero, [DefaultCAValidity].
	ValidFor time.Duration
	// Now is the issue time. If zero, clock.Wall's time is used.
	Now time.Time
	// MaxPathLen is how many intermediate CAs may stand between this CA
	// and a node certificate (its basic constraints' pathLenConstraint).
	// Zero, the default, allows none: `meridian certs` issues node
	// certificates from the CA itself, and a CA that cannot sign another
	// CA cannot be used to mint one if its key leaks. Set it (`certs init
	// --max-path-len 1`) to issue intermediates with another tool
	// (docs/security.md, "Intermediate CAs").
	MaxPathLen int
}

// NewCA creates a CA with a fresh key.
func NewCA(opts CAOptions) (*CA, error) {
	td := opts.TrustDomain
	if td == "" {
		td = DefaultTrustDomain
	}
	if err := checkName("trust domain", td, 255, true); err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = clock.Wall.Now()
	}
	validFor := opts.ValidFor
	if validFor == 0 {
		validFor = DefaultCAValidity
	}
	if validFor < 0 {
		return nil, fmt.Errorf("create CA: validity %v is negative", validFor)
	}
	if opts.MaxPathLen < 0 || opts.MaxPathLen > 8 {
		return nil, fmt.Errorf("create CA: max path length %d is outside 0..8", opts.MaxPathLen)
	}
	key, serial, skid, err := newKeyMaterial("CA")
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Meridian"}, CommonName: "Meridian link CA (" + td + ")"},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            opts.MaxPathLen,
		MaxPathLenZero:        opts.MaxPathLen == 0,
		SubjectKeyId:          skid,
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: td}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key}, nil
}

// TrustDomain returns the trust domain recorded in the CA certificate's
// spiffe:// URI SAN, or [DefaultTrustDomain] if it has none (a CA made by
// another tool).
func (ca *CA) TrustDomain() string {
	for _, u := range ca.Cert.URIs {
		if u.Scheme == "spiffe" && u.Host != "" {
			return u.Host
		}
	}
	return DefaultTrustDomain
}

// NodeOptions configures [CA.Issue].
type NodeOptions struct {
	// Region is the region the certificate speaks for. Required.
	Region string
	// DNSNames and IPs are added to the certificate's SANs, after
	// "localhost", 127.0.0.1 and ::1 which every node certificate carries.
	DNSNames []string
	IPs      []net.IP
	// ValidFor is the certificate's lifetime. If zero,
	// [DefaultNodeValidity]. It may not outlast the CA.
	ValidFor time.Duration
	// Now is the issue time. If zero, clock.Wall's time is used.
	Now time.Time
}

// Issued is a node certificate with its fresh private key.
type Issued struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
}

// Issue creates a node certificate for opts.Region, usable for both TLS
// server and client authentication, with the URI SAN
// spiffe://<trust-domain>/region/<region>.
func (ca *CA) Issue(opts NodeOptions) (*Issued, error) {
	id := Identity{TrustDomain: ca.TrustDomain(), Region: opts.Region}
	if err := id.Validate(); err != nil {
		return nil, fmt.Errorf("issue certificate: %w", err)
	}
	now := opts.Now
	if now.IsZero() {
		now = clock.Wall.Now()
	}
	validFor := opts.ValidFor
	if validFor == 0 {
		validFor = DefaultNodeValidity
	}
	if validFor < 0 {
		return nil, fmt.Errorf("issue certificate for %s: validity %v is negative", opts.Region, validFor)
	}
	notAfter := now.Add(validFor)
	if notAfter.After(ca.Cert.NotAfter) {
		return nil, fmt.Errorf("issue certificate for %s: it would expire %s, after the CA (%s); shorten --valid-for or rotate the CA",
			opts.Region, notAfter.UTC().Format(time.RFC3339), ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	key, serial, skid, err := newKeyMaterial("node")
	if err != nil {
		return nil, err
	}
	dns := append([]string{"localhost"}, opts.DNSNames...)
	ips := append([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, opts.IPs...)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Meridian"}, CommonName: opts.Region},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		SubjectKeyId:          skid,
		AuthorityKeyId:        ca.Cert.SubjectKeyId,
		URIs:                  []*url.URL{id.URI()},
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("create certificate for %s: %w", opts.Region, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate for %s: %w", opts.Region, err)
	}
	return &Issued{Cert: cert, Key: key}, nil
}

// CertPEM returns the certificate in PEM.
func (i *Issued) CertPEM() []byte { return encodeCert(i.Cert) }

// KeyPEM returns the private key as PKCS #8 in PEM.
func (i *Issued) KeyPEM() ([]byte, error) { return encodeKey(i.Key) }

func encodeCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func encodeKey(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// newKeyMaterial returns what every certificate needs: a new P-256 key,
// a random serial and the key's subject key id. what names the
// certificate in errors ("CA", "node").
func newKeyMaterial(what string) (*ecdsa.PrivateKey, *big.Int, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generate %s key: %w", what, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, nil, err
	}
	skid, err := subjectKeyID(&key.PublicKey)
	if err != nil {
		return nil, nil, nil, err
	}
	return key, serial, skid, nil
}

func randomSerial() (*big.Int, error) {
	// 128 random bits, positive, as CA/B Forum practice asks (>= 64 bits).
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func subjectKeyID(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshal public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return sum[:20], nil
}

// errNotECDSA reports a key of a type the link does not use.
var errNotECDSA = errors.New("private key is not ECDSA")
