package envelope

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"unicode/utf8"
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
func encodeB64(e *Envelope) (payload []byte, header string, err error) {
	var scratch [encodeScratch]byte
	p, err := appendEnvelope(scratch[:0], e)
	if err != nil {
		return nil, "", err
	}
	var b64 [base64Scratch]byte
	var h []byte
	if n := base64.RawURLEncoding.EncodedLen(len(p)); n <= len(b64) {
		h = b64[:n]
	} else {
		h = make([]byte, n)
	}
	base64.RawURLEncoding.Encode(h, p)
	return append([]byte(nil), p...), string(h), nil
}

// base64Scratch is the stack buffer of an envelope's base64 form.
const base64Scratch = 2048

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
	}
	return append(b, '}'), nil
}

// appendMember appends name (the comma, the quoted name and the colon)
// and s as a JSON string.
func appendMember(b []byte, name, s string) []byte {
	return appendString(append(b, name...), s)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string exactly as json.Marshal writes
// one: HTML-safe (<, > and & escaped as \u003c, \u003e, \u0026), U+2028
// and U+2029 escaped, each byte of invalid UTF-8 replaced by \ufffd, and
// the control characters as \b, \f, \n, \r, \t or \u00XX.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
