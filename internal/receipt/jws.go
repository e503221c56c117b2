package receipt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/pki"
)

// Limits of what [Parse] and [Verify] accept.
const (
	// MaxTokenBytes bounds a receipt; one with a single link certificate
	// is about 2.5 KB.
	MaxTokenBytes = 16 << 10
	// MaxChain bounds the certificates in the x5c header.
	MaxChain = 4
	// MaxSkew is how far in the future a receipt's iat may be, for clocks
	// that disagree a little.
	MaxSkew = 5 * time.Minute
)

// alg is the only JWS algorithm receipts use: the link keys are P-256.
const alg = "ES256"

// header is the JWS protected header. Field order is the encoding order.
type header struct {
	Alg string   `json:"alg"`
	Typ string   `json:"typ"`
	X5C []string `json:"x5c"`
	// Crit is decoded only to refuse it: a receipt has no critical
	// extensions, and RFC 7515 section 4.1.11 forbids ignoring one.
	Crit json.RawMessage `json:"crit,omitempty"`
}

// wire is the JWS payload: the claims with iat as a NumericDate.
type wire struct {
	Claims
	IAT int64 `json:"iat"`
}

var b64 = base64.RawURLEncoding.Strict()

// Sign returns claims as a receipt signed by signer, whose certificate is
// chain[0]; chain may continue with intermediates (a self-signed root at
// its end is dropped). The certificate must be an ECDSA P-256 link
// certificate naming claims.InferenceRegion (else [ErrRegion]), so a node
// cannot sign for another region by mistake. Sign sets claims.Version to
// [Version] when zero and truncates IssuedAt to whole seconds (the caller
// sets it from its clock). It is safe for concurrent use if signer is.
func Sign(claims Claims, signer crypto.Signer, chain []*x509.Certificate) (string, error) {
	if claims.Version == 0 {
		claims.Version = Version
	}
	claims.IssuedAt = claims.IssuedAt.Truncate(time.Second)
	if err := claims.validate(); err != nil {
		return "", fmt.Errorf("sign receipt: %w", err)
	}
	if signer == nil || len(chain) == 0 || chain[0] == nil {
		return "", errors.New("sign receipt: signer and certificate required")
	}
	leaf := chain[0]
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return "", errors.New("sign receipt: certificate key is not ECDSA P-256")
	}
	if sp, ok := signer.Public().(*ecdsa.PublicKey); !ok || !sp.Equal(pub) {
		return "", errors.New("sign receipt: signer key does not match the certificate")
	}
	id, err := pki.IdentityFromCertificate(leaf)
	if err != nil {
		return "", fmt.Errorf("sign receipt: %w", err)
	}
	if id.Region != claims.InferenceRegion {
		return "", fmt.Errorf("sign receipt: %w: inference region %q, but the certificate is for %q", ErrRegion, claims.InferenceRegion, id.Region)
	}
	h := header{Alg: alg, Typ: Type}
	for i, c := range chain {
		if c == nil {
			return "", fmt.Errorf("sign receipt: certificate %d is nil", i)
		}
		if i > 0 && selfSigned(c) {
			break
		}
		h.X5C = append(h.X5C, base64.StdEncoding.EncodeToString(c.Raw))
	}
	hb, err := json.Marshal(&h)
	if err != nil {
		return "", fmt.Errorf("sign receipt: %w", err)
	}
	pb, err := json.Marshal(&wire{Claims: claims, IAT: claims.IssuedAt.Unix()})
	if err != nil {
		return "", fmt.Errorf("sign receipt: %w", err)
	}
	n := b64.EncodedLen(len(hb)) + 1 + b64.EncodedLen(len(pb))
	buf := make([]byte, 0, n+1+b64.EncodedLen(64))
	buf = b64.AppendEncode(buf, hb)
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, pb)
	digest := sha256.Sum256(buf)
	der, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("sign receipt: %w", err)
	}
	raw, err := rawSignature(der)
	if err != nil {
		return "", fmt.Errorf("sign receipt: %w", err)
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, raw[:])
	return string(buf), nil
}

func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil
}

// rawSignature converts an ASN.1 DER ECDSA signature to the JWS form: r
// and s as 32-byte big-endian integers (RFC 7518 section 3.4).
func rawSignature(der []byte) ([64]byte, error) {
	var out [64]byte
	var sig struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 ||
		sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return out, errors.New("signer returned a malformed ECDSA signature")
	}
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

// Token is a parsed, not yet verified, receipt.
type Token struct {
	// Claims are the receipt's claims as written; nothing vouches for
	// them until [Verify] succeeds.
	Claims Claims
	// Chain is the x5c header: the signer's certificate first.
	Chain []*x509.Certificate

	signed []byte // header.payload, the JWS signing input
	sig    []byte // raw r||s
}

// Parse decodes a receipt without verifying it: the JWS structure, the
// header (alg ES256, typ [Type], no crit, 1 to [MaxChain] certificates)
// and well-formed claims. Every failure wraps [ErrMalformed]. Use it to
// show a receipt; trust it only through [Verify].
func Parse(token string) (*Token, error) {
	if len(token) > MaxTokenBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrMalformed, len(token), MaxTokenBytes)
	}
	token = strings.TrimSpace(token)
	hs, rest, ok1 := strings.Cut(token, ".")
	ps, ss, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(ss, ".") {
		return nil, fmt.Errorf("%w: not a JWS compact serialization (three base64url parts joined by '.')", ErrMalformed)
	}
	hb, err := b64.DecodeString(hs)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	var h header
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	switch {
	case h.Alg != alg:
		return nil, fmt.Errorf("%w: alg %q, want %q", ErrMalformed, truncate(h.Alg), alg)
	case h.Typ != Type:
		return nil, fmt.Errorf("%w: typ %q, want %q", ErrMalformed, truncate(h.Typ), Type)
	case h.Crit != nil:
		return nil, fmt.Errorf("%w: crit header not supported", ErrMalformed)
	case len(h.X5C) == 0 || len(h.X5C) > MaxChain:
		return nil, fmt.Errorf("%w: x5c holds %d certificates, want 1 to %d", ErrMalformed, len(h.X5C), MaxChain)
	}
	t := &Token{Chain: make([]*x509.Certificate, len(h.X5C))}
	for i, s := range h.X5C {
		der, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c[%d]: %v", ErrMalformed, i, err)
		}
		if t.Chain[i], err = x509.ParseCertificate(der); err != nil {
			return nil, fmt.Errorf("%w: x5c[%d]: %v", ErrMalformed, i, err)
		}
	}
	pb, err := b64.DecodeString(ps)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	var w wire
	dec := json.NewDecoder(bytes.NewReader(pb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: payload: data after the claims", ErrMalformed)
	}
	w.Claims.IssuedAt = time.Time{}
	if w.IAT > 0 && w.IAT < 1<<40 {
		w.Claims.IssuedAt = time.Unix(w.IAT, 0).UTC()
	}
	if err := w.Claims.validate(); err != nil {
		return nil, err
	}
	t.Claims = w.Claims
	if t.sig, err = b64.DecodeString(ss); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrMalformed, err)
	}
	if len(t.sig) != 64 {
		return nil, fmt.Errorf("%w: signature is %d bytes, want 64 (ES256 r||s)", ErrMalformed, len(t.sig))
	}
	t.signed = []byte(token[:len(hs)+1+len(ps)])
	return t, nil
}

// Verify checks a receipt and returns its claims. In order: it is
// well-formed ([ErrMalformed]); the signature verifies with the key of the
// first x5c certificate ([ErrSignature]); it was not issued after
// now+[MaxSkew] ([ErrFuture]); that certificate chains to roots at the
// receipt's issue time, allows digital signatures and TLS client
// authentication (as link certificates do), and is in the trust domain of
// the CA it chains to ([ErrUntrusted]); and it names the receipt's
// inference_region ([ErrRegion]).
//
// The chain is checked at the issue time, not at now, so a receipt stays
// verifiable after its signer's certificate expires or is rotated; a
// receipt signed by a certificate already expired (or not yet valid) when
// it claims to have been issued fails. Verify is safe for concurrent use.
func Verify(token string, roots *x509.CertPool, now time.Time) (*Claims, error) {
	t, err := Parse(token)
	if err != nil {
		return nil, err
	}
	return t.verify(roots, now)
}

func (t *Token) verify(roots *x509.CertPool, now time.Time) (*Claims, error) {
	leaf := t.Chain[0]
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: signer key is not ECDSA P-256", ErrUntrusted)
	}
	digest := sha256.Sum256(t.signed)
	r := new(big.Int).SetBytes(t.sig[:32])
	s := new(big.Int).SetBytes(t.sig[32:])
	if !ecdsa.Verify(pub, digest[:], r, s) {
		return nil, ErrSignature
	}
	iat := t.Claims.IssuedAt
	if iat.After(now.Add(MaxSkew)) {
		return nil, fmt.Errorf("%w: issued %s, now %s", ErrFuture, iat.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if roots == nil {
		return nil, fmt.Errorf("%w: no CA bundle", ErrUntrusted)
	}
	if leaf.IsCA || leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return nil, fmt.Errorf("%w: certificate %q is not a link certificate allowed to sign (key usage)", ErrUntrusted, truncate(leaf.Subject.CommonName))
	}
	opts := x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: iat,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if len(t.Chain) > 1 {
		opts.Intermediates = x509.NewCertPool()
		for _, c := range t.Chain[1:] {
			opts.Intermediates.AddCert(c)
		}
	}
	chains, err := leaf.Verify(opts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	id, err := pki.IdentityFromCertificate(leaf)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	if td := trustDomain(chains[0][len(chains[0])-1]); id.TrustDomain != td {
		return nil, fmt.Errorf("%w: certificate is in trust domain %q, its CA is for %q", ErrUntrusted, id.TrustDomain, td)
	}
	if id.Region != t.Claims.InferenceRegion {
		return nil, fmt.Errorf("%w: receipt claims %q, signed by the link certificate of %q", ErrRegion, t.Claims.InferenceRegion, id.Region)
	}
	c := t.Claims
	return &c, nil
}

// trustDomain is the trust domain a link CA certificate records in its
// spiffe:// URI SAN (see pki.CA.TrustDomain).
func trustDomain(ca *x509.Certificate) string {
	return (&pki.CA{Cert: ca}).TrustDomain()
}

// CheckRequest reports whether body, the request body as sent, hashes to
// c.RequestSHA256; else an error wrapping [ErrMismatch].
func (c *Claims) CheckRequest(body []byte) error {
	if got := BodyHash(body); got != c.RequestSHA256 {
		return fmt.Errorf("%w: request body hashes to %s, receipt says %s", ErrMismatch, got, c.RequestSHA256)
	}
	return nil
}

// CheckAnswer reports whether answer hashes to c.AnswerSHA256: for
// [AnswerBody] the response body as received, for [AnswerText] the
// concatenated text of the stream. Else an error wrapping [ErrMismatch].
func (c *Claims) CheckAnswer(answer []byte) error {
	if got := BodyHash(answer); got != c.AnswerSHA256 {
		return fmt.Errorf("%w: answer (%s) hashes to %s, receipt says %s", ErrMismatch, c.AnswerForm, got, c.AnswerSHA256)
	}
	return nil
}

// SignTLS is [Sign] with a node's link certificate as a TLS certificate
// (pki.Store.Certificate(), read afresh for each receipt so that a rotated
// certificate takes effect): its private key signs, and Leaf followed by
// the rest of its chain goes into x5c.
func SignTLS(claims Claims, cert *tls.Certificate) (string, error) {
	if cert == nil || cert.Leaf == nil || len(cert.Certificate) == 0 {
		return "", errors.New("sign receipt: certificate with Leaf required")
	}
	key, ok := cert.PrivateKey.(crypto.Signer)
	if !ok {
		return "", errors.New("sign receipt: private key cannot sign")
	}
	chain := []*x509.Certificate{cert.Leaf}
	for i, der := range cert.Certificate[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return "", fmt.Errorf("sign receipt: chain certificate %d: %w", i+1, err)
		}
		chain = append(chain, c)
	}
	return Sign(claims, key, chain)
}
