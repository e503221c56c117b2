package receipt_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/receipt"
)

// base is the fixed time the test CAs and certificates are issued at.
var base = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func newCA(t testing.TB, td string) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA(pki.CAOptions{TrustDomain: td, Now: base})
	if err != nil {
		t.Fatalf("NewCA: %v", err)
	}
	return ca
}

func issue(t testing.TB, ca *pki.CA, region string, validFor time.Duration) *pki.Issued {
	t.Helper()
	is, err := ca.Issue(pki.NodeOptions{Region: region, Now: base, ValidFor: validFor})
	if err != nil {
		t.Fatalf("Issue(%s): %v", region, err)
	}
	return is
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// claimsFor returns valid claims for a request served in region.
func claimsFor(region, requestID string, body, answer []byte) receipt.Claims {
	sum := sha256.Sum256([]byte("event " + requestID))
	return receipt.Claims{
		RequestID:       requestID,
		ProfileARN:      "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-sonnet-4",
		SourceRegion:    "eu-west-1",
		InferenceRegion: region,
		Model:           "anthropic.claude-sonnet-4",
		RequestSHA256:   receipt.BodyHash(body),
		AnswerForm:      receipt.AnswerBody,
		AnswerSHA256:    receipt.BodyHash(answer),
		Usage:           receipt.Usage{InputTokens: 12, OutputTokens: 34},
		IssuedAt:        base.Add(time.Hour),
		Audit:           receipt.AuditRef{EventID: requestID, Hash: hexOf(sum[:])},
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	var s strings.Builder
	for _, c := range b {
		s.WriteByte(digits[c>>4])
		s.WriteByte(digits[c&15])
	}
	return s.String()
}

func sign(t testing.TB, c receipt.Claims, is *pki.Issued) string {
	t.Helper()
	tok, err := receipt.Sign(c, is.Key, []*x509.Certificate{is.Cert})
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

// forge builds a receipt by hand, as a dishonest party would, without
// Sign's checks: header with x5c certs, payload as given, signed by key.
func forge(t testing.TB, certs []*x509.Certificate, payload []byte, key crypto.Signer) string {
	t.Helper()
	var x5c []string
	for _, c := range certs {
		x5c = append(x5c, base64.StdEncoding.EncodeToString(c.Raw))
	}
	hb, _ := json.Marshal(map[string]any{"alg": "ES256", "typ": receipt.Type, "x5c": x5c})
	in := b64(hb) + "." + b64(payload)
	d := sha256.Sum256([]byte(in))
	der, err := key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var sig struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(der, &sig); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 64)
	sig.R.FillBytes(raw[:32])
	sig.S.FillBytes(raw[32:])
	return in + "." + b64(raw)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// parts splits a token and decodes its payload into a map.
func payloadOf(t testing.TB, tok string) (hdr string, claims map[string]any, sig string) {
	t.Helper()
	p := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(p[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return p[0], claims, p[2]
}

// certWithURI issues, from ca, a link-like certificate for key naming uri.
func certWithURI(t testing.TB, ca *pki.CA, key *ecdsa.PrivateKey, uri string) *x509.Certificate {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "forged"},
		NotBefore:    base,
		NotAfter:     base.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		URIs:         []*url.URL{u},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type issuedKey = pki.Issued

func newExampleCA() (*pki.CA, error) { return pki.NewCA(pki.CAOptions{Now: base}) }

func exampleNode(region string) pki.NodeOptions { return pki.NodeOptions{Region: region, Now: base} }

func b64dec(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
