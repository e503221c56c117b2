package envelope

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/jsonesc"
)

// The envelope's JSON is written by hand, not by encoding/json: every
// forwarded request encodes one, and json.Marshal spent most of its time
// and allocations on reflection, the time and the two TextMarshalers. The
// bytes are exactly those json.Marshal writes for the same [Envelope] (or
// its version 1 form), which TestEncodeMatchesEncodingJSON and
// FuzzEncodeMatchesEncodingJSON hold it to: a receiver parses them with
// parse, and the wire golden files pin them.

// encodeScratch is the stack buffer an envelope is encoded into before it
// is copied to its one allocation; an envelope is about 600 bytes, and a
// longer one grows onto the heap.
const encodeScratch = 1024

// encode returns the JSON payload of e in the form of e.Version. A version
// 1 payload drops the version 2 fields.
func encode(e *Envelope) ([]byte, error) {
	return appendEnvelope(nil, e)
}

// encodeB64 returns the JSON payload of e and its base64url form (the
// value of [HeaderEnvelope]): two allocations, the payload and the header.
// The header is encoded in chunks straight into the string it becomes
// (strings.Builder, grown once to its length), not into a buffer then
// copied.
func encodeB64(e *Envelope) (payload []byte, header string, err error) {
	var scratch [encodeScratch]byte
	p, err := appendEnvelope(scratch[:0], e)
	if err != nil {
		return nil, "", err
	}
	var h strings.Builder
	h.Grow(base64.RawURLEncoding.EncodedLen(len(p)))
	// Every chunk but the last is a multiple of 3 bytes, so the chunks'
	// encodings, without padding, concatenate to the payload's.
	var chunk [base64Chunk / 3 * 4]byte
	for q := p; len(q) > 0; {
		k := min(len(q), base64Chunk)
		n := base64.RawURLEncoding.EncodedLen(k)
		base64.RawURLEncoding.Encode(chunk[:n], q[:k])
		h.Write(chunk[:n])
		q = q[k:]
	}
	return append([]byte(nil), p...), h.String(), nil
}

// base64Chunk is the number of payload bytes encoded at a time; a
// multiple of 3.
const base64Chunk = 384

// appendEnvelope appends the JSON of e, as json.Marshal writes it, to b.
// It fails, as json.Marshal does, only on an IssuedAt that RFC 3339 cannot
// write (a year outside 0 to 9999).
func appendEnvelope(b []byte, e *Envelope) ([]byte, error) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(e.Version), 10)
	b = appendMember(b, `,"request_id":`, e.RequestID)
	b = appendMember(b, `,"source_region":`, e.SourceRegion)
	b = appendMember(b, `,"destination_region":`, e.DestinationRegion)
	b = appendMember(b, `,"principal_id":`, e.PrincipalID)
	b = appendMember(b, `,"profile_arn":`, e.ProfileARN)
	b = append(b, `,"issued_at":"`...)
	b, err := e.IssuedAt.AppendText(b)
	if err != nil {
		return nil, err
	}
	b = append(b, `","nonce":"`...)
	b = base64.RawURLEncoding.AppendEncode(b, e.Nonce[:])
	b = append(b, `","body_sha256":"`...)
	b = hex.AppendEncode(b, e.BodySHA256[:])
	b = append(b, '"')
	if e.Version != 1 {
		b = appendMember(b, `,"operation":`, e.Operation)
		b = appendMember(b, `,"auth_method":`, e.AuthMethod)
		b = appendMember(b, `,"key_id":`, e.KeyID)
		b = appendMember(b, `,"client_ip":`, e.ClientIP)
		b = append(b, `,"client_tls":`...)
		b = strconv.AppendBool(b, e.ClientTLS)
		b = appendMember(b, `,"model":`, e.Model)
		if e.TraceParent != "" {
			b = appendMember(b, `,"traceparent":`, e.TraceParent)
		}
		if e.ServiceTier != "" {
			b = appendMember(b, `,"service_tier":`, e.ServiceTier)
		}
		if e.RequestMetadataSHA256 != "" {
			b = appendMember(b, `,"request_metadata_sha256":`, e.RequestMetadataSHA256)
		}
	}
	return append(b, '}'), nil
}

// appendMember appends name (the comma, the quoted name and the colon)
// and s as a JSON string.
func appendMember(b []byte, name, s string) []byte {
	return jsonesc.AppendString(append(b, name...), s)
}
