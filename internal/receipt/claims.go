package receipt

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"time"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/pki"
)

// Version is the claims format version this package writes and the only
// one [Verify] accepts. It changes whenever a claim is added or its meaning
// changes.
const Version = 1

// Type is the JWS "typ" header of a receipt (explicit typing, RFC 8725
// section 3.11), so that a receipt is never mistaken for another token
// signed by the same key.
const Type = "meridian-receipt+jwt"

// AnswerForm says what [Claims].AnswerSHA256 was computed over.
type AnswerForm string

const (
	// AnswerBody is the response body exactly as delivered to the client
	// (non-streaming answers).
	AnswerBody AnswerForm = "body"
	// AnswerText is the concatenated text content of a streamed answer, in
	// the order delivered, UTF-8, without framing (see [AnswerHasher] and
	// docs/receipts.md for which fields each stream dialect contributes).
	AnswerText AnswerForm = "text"
)

// String returns the form as written in a receipt.
func (f AnswerForm) String() string { return string(f) }

func (f AnswerForm) valid() bool { return f == AnswerBody || f == AnswerText }

// Usage is the token usage the inference region counted for the answer.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// AuditRef names the inference region's audit event for the request. Hash
// is empty when that region keeps no audit trail (audit.disabled): there is
// then no event to find. Otherwise AuditRef holds the event's
// event id (the request id) and its hash in that region's audit chain (the
// event's "hash" field, see docs/audit.md), which `meridian audit verify
// --receipt` finds in a verified chain.
type AuditRef struct {
	EventID string `json:"event_id"`
	Hash    string `json:"hash"`
}

// Claims is what a receipt states. Every field is required (Usage may be
// zero); [Sign] and [Verify] refuse claims that miss one.
type Claims struct {
	// Version is the claims format version. Sign writes [Version] when it
	// is zero; Verify accepts only [Version].
	Version int `json:"ver"`
	// RequestID is the x-meridian-request-id of the request.
	RequestID string `json:"request_id"`
	// ProfileARN is the inference profile the request resolved to.
	ProfileARN string `json:"profile_arn"`
	// SourceRegion is where the request entered Meridian.
	SourceRegion string `json:"source_region"`
	// InferenceRegion is where inference ran. It must be the region named
	// by the signer's link certificate.
	InferenceRegion string `json:"inference_region"`
	// Model is the logical model id the request resolved to.
	Model string `json:"model"`
	// RequestSHA256 is the lowercase hex SHA-256 of the request body as
	// received (see [BodyHash]).
	RequestSHA256 string `json:"request_sha256"`
	// AnswerForm says what AnswerSHA256 covers.
	AnswerForm AnswerForm `json:"answer_form"`
	// AnswerSHA256 is the lowercase hex SHA-256 of the answer as delivered
	// (see [AnswerForm] and [AnswerHasher]).
	AnswerSHA256 string `json:"answer_sha256"`
	Usage        Usage  `json:"usage"`
	// IssuedAt is when the receipt was signed, in whole seconds (the JWT
	// "iat" NumericDate). Verify checks the certificate chain at this
	// time.
	IssuedAt time.Time `json:"-"`
	// Audit names the inference region's audit event for the request.
	Audit AuditRef `json:"audit"`
}

// maxField bounds every string claim, so a receipt stays small enough for
// an HTTP header (see [MaxTokenBytes]).
const maxField = 512

// validate checks that every claim is present and well-formed.
func (c *Claims) validate() error {
	if c.Version != Version {
		return fmt.Errorf("%w: version %d, want %d", ErrMalformed, c.Version, Version)
	}
	for _, f := range []struct{ name, v string }{
		{"request_id", c.RequestID},
		{"profile_arn", c.ProfileARN},
		{"source_region", c.SourceRegion},
		{"inference_region", c.InferenceRegion},
		{"model", c.Model},
		{"audit.event_id", c.Audit.EventID},
	} {
		if f.v == "" {
			return fmt.Errorf("%w: %s is empty", ErrMalformed, f.name)
		}
		if len(f.v) > maxField {
			return fmt.Errorf("%w: %s is longer than %d bytes", ErrMalformed, f.name, maxField)
		}
		if !printable(f.v) {
			// Verifiers print claims; control bytes could rewrite a terminal.
			return fmt.Errorf("%w: %s holds control characters or invalid UTF-8", ErrMalformed, f.name)
		}
	}
	for _, f := range []struct{ name, v string }{
		{"request_sha256", c.RequestSHA256},
		{"answer_sha256", c.AnswerSHA256},
		{"audit.hash", c.Audit.Hash},
	} {
		if f.v == "" && f.name == "audit.hash" {
			continue // the inference region keeps no audit trail (audit.disabled)
		}
		if !isHash(f.v) {
			return fmt.Errorf("%w: %s is not 64 lowercase hex digits", ErrMalformed, f.name)
		}
	}
	if !c.AnswerForm.valid() {
		return fmt.Errorf("%w: answer_form %q, want %q or %q", ErrMalformed, truncate(string(c.AnswerForm)), AnswerBody, AnswerText)
	}
	if c.Usage.InputTokens < 0 || c.Usage.OutputTokens < 0 {
		return fmt.Errorf("%w: usage is negative", ErrMalformed)
	}
	if c.IssuedAt.IsZero() || c.IssuedAt.Unix() <= 0 {
		return fmt.Errorf("%w: iat is missing", ErrMalformed)
	}
	if c.Audit.EventID != c.RequestID {
		return fmt.Errorf("%w: audit.event_id %q is not the request id %q", ErrMalformed, truncate(c.Audit.EventID), truncate(c.RequestID))
	}
	if _, err := pki.ParseIdentity("spiffe://x/region/" + c.InferenceRegion); err != nil {
		return fmt.Errorf("%w: inference_region %q is not a region name", ErrMalformed, truncate(c.InferenceRegion))
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}

// truncate bounds a caller-controlled string before it goes into an error.
func truncate(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func isHash(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// BodyHash returns the lowercase hex SHA-256 of body, the form of
// [Claims].RequestSHA256 and of AnswerSHA256 for [AnswerBody].
func BodyHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// AnswerHasher hashes a streamed answer as it is delivered: the stream
// writer calls Write with each piece of text content it sends, in order,
// and Sum when the stream ends, for [Claims].AnswerSHA256 with
// [AnswerText]. The zero value is not ready: use [NewAnswerHasher]. It is
// not safe for concurrent use (one stream, one writer).
type AnswerHasher struct {
	h   hash.Hash
	n   int64
	buf [128]byte // copies strings in pieces, so WriteString does not allocate
}

// NewAnswerHasher returns an empty AnswerHasher.
func NewAnswerHasher() *AnswerHasher { return &AnswerHasher{h: sha256.New()} }

// Write adds p to the answer. It never fails.
func (a *AnswerHasher) Write(p []byte) (int, error) {
	a.n += int64(len(p))
	return a.h.Write(p)
}

// WriteString adds s to the answer. It does not allocate.
func (a *AnswerHasher) WriteString(s string) (int, error) {
	a.n += int64(len(s))
	for rest := s; rest != ""; {
		n := copy(a.buf[:], rest)
		a.h.Write(a.buf[:n])
		rest = rest[n:]
	}
	return len(s), nil
}

// Len returns how many bytes were written.
func (a *AnswerHasher) Len() int64 { return a.n }

// Sum returns the lowercase hex SHA-256 of everything written so far. It
// does not reset the hasher.
func (a *AnswerHasher) Sum() string {
	var b [sha256.Size]byte
	return hex.EncodeToString(a.h.Sum(b[:0]))
}
