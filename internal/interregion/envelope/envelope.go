package envelope

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Version is the envelope format version this package writes. A version
// changes whenever the set of fields, or the meaning of one, changes; see
// "Versions and rolling upgrades" in docs/security.md.
//
//   - 1: request id, regions, principal id, profile ARN, issued-at, nonce,
//     body hash.
//   - 2: adds what the destination authorizes and audits on that version 1
//     carried in plain headers: operation, authentication method, key id,
//     client IP, client TLS, model.
//   - 3: adds the W3C trace context of the source's attempt (traceparent),
//     so that the destination's spans join the request's trace.
//   - 4: adds the service tier the source admitted the request in
//     (service_tier), which a caller may have set in a header rather than
//     in the body the link carries.
//   - 5: adds the SHA-256 of the request metadata the caller sent beside
//     the body (request_metadata_sha256), which travels in its own header
//     ([HeaderRequestMetadata]). A version 4 peer cannot be sent such a
//     request: the source does not forward it there.
//
// The next envelope version is 7: link version 6 is a capability a node
// advertises without a new envelope (internal/interregion/wire.go,
// reasoningVersion), and a node advertising 6 accepts envelopes up to 5.
const Version = 5

// MinVersion is the oldest version [Verifier.Verify] and [Decode] accept.
// A version 1 envelope (from a node not yet upgraded) is served with the
// fields of version 2 absent: no operation, method or key id, no client IP
// and client TLS false, so policy conditions on them fail closed. Versions
// outside [MinVersion, Version] are refused as [ReasonMalformed].
const MinVersion = 1

// HTTP headers carrying a sealed envelope.
const (
	// HeaderEnvelope holds the envelope's JSON, base64url without padding.
	HeaderEnvelope = "Meridian-Link-Envelope"
	// HeaderSignature holds the ASN.1 DER ECDSA signature, base64url.
	HeaderSignature = "Meridian-Link-Signature"
	// HeaderRequestMetadata holds the request metadata the forwarded body
	// does not (InvokeModel's X-Amzn-Bedrock-Request-Metadata, a Responses
	// request's metadata) as a JSON object; the envelope's
	// RequestMetadataSHA256 covers its exact bytes
	// ([Envelope.CheckRequestMetadata]). Without that field it is ignored.
	HeaderRequestMetadata = "Meridian-Link-Request-Metadata"
	// HeaderCertificate holds the signer's DER certificate, base64url. It is
	// normally the certificate of the TLS connection; it differs only when
	// the source rotated its certificate while a connection made with the
	// previous one is still in use.
	HeaderCertificate = "Meridian-Link-Certificate"
)

// Header size limits; longer values are malformed. An envelope is about
// 600 bytes encoded and a certificate about 900.
const (
	maxEnvelopeHeader    = 4096
	maxSignatureHeader   = 256
	maxCertificateHeader = 4096
	maxField             = 512
)

// Nonce is 128 random bits that make every envelope unique. It is written
// as base64url.
type Nonce [16]byte

// NewNonce returns a random nonce.
func NewNonce() Nonce {
	var n Nonce
	_, _ = rand.Read(n[:]) // crypto/rand.Read never fails (Go 1.24+)
	return n
}

// IsZero reports whether n is all zero bytes (unset).
func (n Nonce) IsZero() bool { return n == Nonce{} }

// MarshalText writes n as base64url without padding.
func (n Nonce) MarshalText() ([]byte, error) {
	return []byte(base64.RawURLEncoding.EncodeToString(n[:])), nil
}

// UnmarshalText reads base64url without padding; exactly 16 bytes.
func (n *Nonce) UnmarshalText(b []byte) error {
	if base64.RawURLEncoding.DecodedLen(len(b)) != len(n) {
		return fmt.Errorf("nonce: %d characters, want 22", len(b))
	}
	_, err := rawURLStrict.Decode(n[:], b)
	if err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	return nil
}

// Digest is a SHA-256 hash, written as lower-case hex.
type Digest [32]byte

// HashBody returns the SHA-256 of the request body exactly as sent on the
// link.
func HashBody(body []byte) Digest { return sha256.Sum256(body) }

// MarshalText writes d as lower-case hex.
func (d Digest) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(d[:])), nil }

// UnmarshalText reads 64 lower-case hex digits.
func (d *Digest) UnmarshalText(b []byte) error {
	if len(b) != 2*len(d) {
		return fmt.Errorf("digest: %d characters, want 64", len(b))
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("digest: %q is not lower-case hex", c)
		}
	}
	_, err := hex.Decode(d[:], b)
	return err
}

// Envelope describes one forwarded request. All fields are covered by the
// signature.
type Envelope struct {
	// Version is the format version; [Sign] sets it to [Version].
	Version int `json:"v"`
	// RequestID is the request's id in the source region
	// (x-meridian-request-id).
	RequestID string `json:"request_id"`
	// SourceRegion is the region where the request entered; it must be the
	// signer's region.
	SourceRegion string `json:"source_region"`
	// DestinationRegion is the region asked to run inference.
	DestinationRegion string `json:"destination_region"`
	// PrincipalID is the authenticated caller in the source region; empty
	// for an anonymous principal.
	PrincipalID string `json:"principal_id"`
	// ProfileARN is the inference profile the request was routed with.
	ProfileARN string `json:"profile_arn"`
	// IssuedAt is the source's clock when the envelope was signed.
	IssuedAt time.Time `json:"issued_at"`
	// Nonce makes the envelope unique; [Sign] fills it if zero.
	Nonce Nonce `json:"nonce"`
	// BodySHA256 is [HashBody] of the request body sent with it.
	BodySHA256 Digest `json:"body_sha256"`

	// The fields below are version 2. The destination authorizes and
	// audits on them, so they travel here, signed, and nowhere else.

	// Operation is the API operation the caller invoked in the source
	// region (Converse, ConverseStream, chat.completions, ...).
	Operation string `json:"operation"`
	// AuthMethod is how the principal authenticated in the source region,
	// as written in audit events (apiKey, sigv4, mtls); empty for an
	// anonymous principal.
	AuthMethod string `json:"auth_method"`
	// KeyID names the credential the principal used, never the credential.
	KeyID string `json:"key_id"`
	// ClientIP is the caller's address as the source region saw it
	// (aws:SourceIp); empty if unknown.
	ClientIP string `json:"client_ip"`
	// ClientTLS reports whether the caller reached the source region over
	// TLS (aws:SecureTransport).
	ClientTLS bool `json:"client_tls"`
	// Model is the logical model the source resolved; the destination
	// resolves its own and uses this one only to audit a refusal made
	// before that.
	Model string `json:"model"`

	// TraceParent is version 3: the W3C traceparent of the source's span
	// for this attempt ("00-<trace id>-<span id>-<flags>"), the parent of
	// the destination's spans; empty when the source does not trace. It
	// travels signed, like every field, so a peer cannot attach a request
	// to another trace in transit.
	TraceParent string `json:"traceparent,omitempty"`

	// ServiceTier is version 4: the service tier the source admitted the
	// request in ("priority" or "flex"; empty for the default tier). The
	// destination admits and audits the request in this tier, whether the
	// caller named it in the body or in a header the body does not carry.
	ServiceTier string `json:"service_tier,omitempty"`

	// RequestMetadataSHA256 is version 5: the lower-case hex SHA-256
	// ([HashRequestMetadata]) of the value of [HeaderRequestMetadata],
	// the request metadata the caller sent beside the body; empty when
	// the request has none there. The destination audits the metadata and
	// sends it upstream only once it matches.
	RequestMetadataSHA256 string `json:"request_metadata_sha256,omitempty"`
}

// HashRequestMetadata returns the SHA-256 of value, a [HeaderRequestMetadata]
// value exactly as sent, in the form of [Envelope.RequestMetadataSHA256].
func HashRequestMetadata(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// CheckRequestMetadata checks value, the [HeaderRequestMetadata] of the
// request e came with, against e.RequestMetadataSHA256: with the field
// set, the header must be there and hash to it, else the refusal is an
// [*Error] of [ReasonRequestMetadataHash]. Without the field it accepts
// anything, and the receiver ignores the header, as it ignores every
// header the envelope does not cover.
func (e *Envelope) CheckRequestMetadata(value string) error {
	if e.RequestMetadataSHA256 == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(value))
	var want [sha256.Size]byte
	if _, err := hex.Decode(want[:], []byte(e.RequestMetadataSHA256)); err != nil || value == "" ||
		subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
		return &Error{ReasonRequestMetadataHash, errors.New("request metadata does not match the envelope's request_metadata_sha256")}
	}
	return nil
}

// validDigestHex reports whether s is a SHA-256 in lower-case hex.
func validDigestHex(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// maxServiceTier bounds ServiceTier; the tiers' names are shorter.
const maxServiceTier = 16

// maxTraceParent is the length of a version 00 traceparent.
const maxTraceParent = 55

// validTraceParent reports whether s is a W3C traceparent of version 00:
// lower-case hex trace id and span id, neither all zeros, and flags.
func validTraceParent(s string) bool {
	if len(s) != maxTraceParent || s[2] != '-' || s[35] != '-' || s[52] != '-' || s[:2] != "00" {
		return false
	}
	hex := func(t string) (nonZero bool) {
		for i := 0; i < len(t); i++ {
			c := t[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
			nonZero = nonZero || c != '0'
		}
		return nonZero
	}
	return hex(s[3:35]) && hex(s[36:52]) && (s[53:] == "00" || hex(s[53:]))
}

// validate checks that the required fields are present and bounded.
func (e *Envelope) validate() error {
	if e.Version < MinVersion || e.Version > Version {
		return fmt.Errorf("unsupported version %d (this node accepts %d to %d)", e.Version, MinVersion, Version)
	}
	var errs []error
	for _, f := range []struct{ name, val string }{
		{"request_id", e.RequestID}, {"source_region", e.SourceRegion},
		{"destination_region", e.DestinationRegion}, {"profile_arn", e.ProfileARN},
	} {
		if f.val == "" {
			errs = append(errs, fmt.Errorf("%s is empty", f.name))
		}
	}
	for _, f := range []struct{ name, val string }{
		{"request_id", e.RequestID}, {"source_region", e.SourceRegion},
		{"destination_region", e.DestinationRegion}, {"principal_id", e.PrincipalID}, {"profile_arn", e.ProfileARN},
		{"operation", e.Operation}, {"auth_method", e.AuthMethod}, {"key_id", e.KeyID}, {"client_ip", e.ClientIP}, {"model", e.Model},
	} {
		if len(f.val) > maxField {
			errs = append(errs, fmt.Errorf("%s is longer than %d bytes", f.name, maxField))
		}
	}
	if e.IssuedAt.IsZero() {
		errs = append(errs, errors.New("issued_at is unset"))
	}
	if e.Nonce.IsZero() {
		errs = append(errs, errors.New("nonce is unset"))
	}
	switch {
	case e.TraceParent == "":
	case e.Version < 3:
		errs = append(errs, fmt.Errorf("traceparent is not a field of version %d", e.Version))
	case !validTraceParent(e.TraceParent):
		errs = append(errs, fmt.Errorf("traceparent %.64q is not a W3C traceparent of version 00", e.TraceParent))
	}
	switch {
	case e.ServiceTier == "":
	case e.Version < 4:
		errs = append(errs, fmt.Errorf("service_tier is not a field of version %d", e.Version))
	case len(e.ServiceTier) > maxServiceTier:
		errs = append(errs, fmt.Errorf("service_tier is longer than %d bytes", maxServiceTier))
	}
	switch {
	case e.RequestMetadataSHA256 == "":
	case e.Version < 5:
		errs = append(errs, fmt.Errorf("request_metadata_sha256 is not a field of version %d", e.Version))
	case !validDigestHex(e.RequestMetadataSHA256):
		errs = append(errs, fmt.Errorf("request_metadata_sha256 %.80q is not a lower-case hex SHA-256", e.RequestMetadataSHA256))
	}
	return errors.Join(errs...)
}

// Sealed is a signed envelope as carried in HTTP headers: the three header
// values.
type Sealed struct {
	Envelope    string // base64url JSON
	Signature   string // base64url ASN.1 ECDSA signature
	Certificate string // base64url DER signer certificate
	// MAC is the session MAC ([Seal]); a sealed envelope has either MAC
	// or Signature and Certificate.
	MAC string
}

// SetHeaders sets the link headers of s on h; empty fields are left out.
func (s Sealed) SetHeaders(h http.Header) {
	for _, f := range [...]struct{ name, val string }{
		{HeaderEnvelope, s.Envelope}, {HeaderSignature, s.Signature}, {HeaderCertificate, s.Certificate}, {HeaderMAC, s.MAC},
	} {
		if f.val != "" {
			h.Set(f.name, f.val)
		}
	}
}

// Unsigned returns e encoded but not signed, for a link that runs without
// TLS (insecure_dev_link): the receiver reads it with [Decode], and nothing
// proves who wrote it. Like [Sign], it sets Version if it is zero, and
// Nonce, and refuses an incomplete envelope.
func Unsigned(e Envelope) (Sealed, error) {
	e.prepare()
	if err := e.validate(); err != nil {
		return Sealed{}, fmt.Errorf("encode envelope: %w", err)
	}
	_, header, err := encodeB64(&e)
	if err != nil {
		return Sealed{}, fmt.Errorf("encode envelope: %w", err)
	}
	return Sealed{Envelope: header}, nil
}

// FromHeaders reads the link headers from h. Missing headers give
// empty fields, which [Verifier.Verify] refuses as malformed.
func FromHeaders(h http.Header) Sealed {
	return Sealed{
		Envelope:    h.Get(HeaderEnvelope),
		Signature:   h.Get(HeaderSignature),
		Certificate: h.Get(HeaderCertificate),
		MAC:         h.Get(HeaderMAC),
	}
}

// prepare fills what a sealing function fills: Version if it is zero (a
// caller sets an older one for a peer that accepts no newer), and Nonce if
// it is zero; it drops TraceParent from an envelope older than version 3,
// and ServiceTier from one older than version 4. It never drops
// RequestMetadataSHA256: an older envelope with it fails validation, so
// that metadata a peer cannot carry is never lost on the way (the source
// does not forward such a request to such a peer).
func (e *Envelope) prepare() {
	if e.Version == 0 {
		e.Version = Version
	}
	if e.Nonce.IsZero() {
		e.Nonce = NewNonce()
	}
	if e.Version < 3 {
		// A peer that predates version 3 would refuse the field: it is
		// left out, and that peer's spans start a trace of their own.
		e.TraceParent = ""
	}
	if e.Version < 4 {
		// Likewise: such a peer admits the request in the tier its body
		// names (the default when a header named it).
		e.ServiceTier = ""
	}
}

// Decode decodes the envelope header value without checking its signature
// (for logs and tests; [Verifier.Verify] is the only way to trust one). The
// JSON must have exactly the envelope's fields and nothing after it.
func Decode(header string) (Envelope, error) {
	buf := payloadBuffers.Get().(*payloadBuffer)
	defer payloadBuffers.Put(buf)
	payload, err := decodePayload(buf, header)
	if err != nil {
		return Envelope{}, err
	}
	return parse(payload)
}

// payloadBuffer holds the decoded [HeaderEnvelope] of an envelope being
// read: the longest header allowed decodes to 3,072 bytes.
type payloadBuffer [maxEnvelopeHeader * 6 / 8]byte

// payloadBuffers holds the buffers that envelope headers are decoded
// into, one per envelope being read. parse copies out all an envelope
// keeps (the one string its fields share, the nonce and body digest,
// the time; errors are formatted at once), and the MAC and signature
// hashes copy what they read, so a reader puts its buffer back before it
// returns and nothing it returns points into it
// (TestVerifiedEnvelopeOutlivesBuffer).
var payloadBuffers = sync.Pool{New: func() any { return new(payloadBuffer) }}

// decodePayload decodes the [HeaderEnvelope] value s into buf and
// returns the payload, as decodeB64 does.
func decodePayload(buf *payloadBuffer, s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("envelope header is missing")
	}
	if len(s) > maxEnvelopeHeader {
		return nil, fmt.Errorf("envelope header is %d bytes, limit %d", len(s), maxEnvelopeHeader)
	}
	n, err := rawURLStrict.Decode(buf[:], []byte(s))
	if err != nil {
		return nil, fmt.Errorf("envelope header: %w", err)
	}
	return buf[:n], nil
}

// rawURLStrict is base64url without padding, refusing non-zero padding
// bits: the one encoding of each value. (Made once: Strict returns a copy
// of the encoding's tables.)
var rawURLStrict = base64.RawURLEncoding.Strict()

func decodeB64(what, s string, maxLen int) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("%s header is missing", what)
	}
	if len(s) > maxLen {
		return nil, fmt.Errorf("%s header is %d bytes, limit %d", what, len(s), maxLen)
	}
	b, err := rawURLStrict.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s header: %w", what, err)
	}
	return b, nil
}
