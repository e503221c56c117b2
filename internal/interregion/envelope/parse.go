package envelope

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// parse reads an envelope's JSON payload and validates it. It is a strict,
// hand-written reader of the one flat object an envelope is, and accepts
// exactly what encoding/json with DisallowUnknownFields accepted into an
// [Envelope] (the differential fuzz target FuzzParseMatchesEncodingJSON
// holds it to that), with two exceptions, both refusals a sender of this
// package never triggers:
//
//   - a member named twice is refused (encoding/json kept the last one), so
//     that what the signature covers reads one way only;
//   - a member name must be the field's exactly, once its escapes are
//     resolved (encoding/json also took "V" or "Request_ID" for "v" and
//     "request_id").
//
// As before: nothing may follow the object but white space, an unknown
// member is refused, each value must have its field's JSON type (a null
// leaves the field zero, as encoding/json does), strings are unescaped as
// encoding/json unescapes them (invalid UTF-8 becomes U+FFFD), issued_at is
// read by [time.Time.UnmarshalJSON] and nonce and body_sha256 by their
// UnmarshalText. Then [Envelope.validate] runs, unchanged.
func parse(payload []byte) (Envelope, error) {
	var e Envelope
	if err := e.unmarshal(payload); err != nil {
		return Envelope{}, fmt.Errorf("decode envelope: %w", err)
	}
	if err := e.validate(); err != nil {
		return Envelope{}, fmt.Errorf("decode envelope: %w", err)
	}
	return e, nil
}

// The envelope's members, as bits of the set of those already read.
const (
	memberV = 1 << iota
	memberRequestID
	memberSourceRegion
	memberDestinationRegion
	memberPrincipalID
	memberProfileARN
	memberIssuedAt
	memberNonce
	memberBodySHA256
	memberOperation
	memberAuthMethod
	memberKeyID
	memberClientIP
	memberClientTLS
	memberModel
	memberTraceParent
	memberServiceTier
	memberRequestMetadataSHA256
)

// unmarshal sets e's fields from the members of the JSON object payload.
// The strings it sets are substrings of one copy of payload: one
// allocation for every field, and the envelope keeps those few hundred
// bytes alive as long as any of its strings.
func (e *Envelope) unmarshal(payload []byte) error {
	r := reader{payload: payload, text: string(payload)}
	var seen uint32
	err := jsonx.Members(payload, func(rawKey, raw []byte) error {
		// The members' names are plain strings: matched as they are, the
		// usual name is neither scanned for escapes nor copied. A name
		// that matches none is resolved (escapes, U+FFFD) and tried again.
		name := rawKey[1 : len(rawKey)-1]
		bit, err := r.set(e, name, raw)
		if err == errUnknownMember && !plainString(name) {
			s, nameErr := jsonString(rawKey)
			if nameErr != nil {
				return fmt.Errorf("member name: %w", nameErr)
			}
			name = []byte(s)
			bit, err = r.set(e, name, raw)
		}
		if err == errUnknownMember {
			return fmt.Errorf("unknown member %.64q", name)
		}
		if err != nil {
			return err
		}
		if seen&bit != 0 {
			return fmt.Errorf("member %q appears twice", name)
		}
		seen |= bit
		return nil
	})
	switch {
	case errors.Is(err, jsonx.ErrNotObject):
		return errors.New("not a JSON object")
	case errors.Is(err, jsonx.ErrSyntax):
		return errors.New("malformed JSON object")
	}
	return err
}

// reader reads the values of one payload.
type reader struct {
	payload []byte
	// text is payload as a string, of which plain strings are sliced.
	text string
}

// string returns the value of raw, a JSON value within r.payload that
// starts with a quote, checked as [scalar] checks it: one scan of a plain
// string, whose value is sliced from r.text.
func (r *reader) string(raw []byte) (string, error) {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return "", errors.New("malformed JSON value")
	}
	inner := raw[1 : len(raw)-1]
	if !plainString(inner) {
		if !json.Valid(raw) {
			return "", errors.New("malformed JSON value")
		}
		return jsonString(raw)
	}
	if len(inner) == 0 {
		return "", nil
	}
	// raw is a subslice of payload (jsonx.Members slices, never copies),
	// so its offset is the difference of their capacities; the address
	// check keeps this right should that change.
	if off := cap(r.payload) - cap(inner); off >= 0 && off+len(inner) <= len(r.payload) && &r.payload[off] == &inner[0] {
		return r.text[off : off+len(inner)], nil
	}
	return string(inner), nil
}

// errUnknownMember is [reader.set]'s answer for a name that is no
// member's; the caller names it in the error.
var errUnknownMember = errors.New("unknown member")

// set sets the field of the member name to the raw JSON value, and returns
// the member's bit. An unknown name is an error.
func (r *reader) set(e *Envelope, name, raw []byte) (bit uint32, err error) {
	var s *string
	switch string(name) {
	case "v":
		return memberV, jsonInt(name, raw, &e.Version)
	case "request_id":
		bit, s = memberRequestID, &e.RequestID
	case "source_region":
		bit, s = memberSourceRegion, &e.SourceRegion
	case "destination_region":
		bit, s = memberDestinationRegion, &e.DestinationRegion
	case "principal_id":
		bit, s = memberPrincipalID, &e.PrincipalID
	case "profile_arn":
		bit, s = memberProfileARN, &e.ProfileARN
	case "issued_at":
		if err := scalar(name, raw); err != nil {
			return 0, err
		}
		// encoding/json hands the raw value to UnmarshalJSON: a string
		// is parsed with its escapes unresolved, null leaves it zero.
		if err := e.IssuedAt.UnmarshalJSON(raw); err != nil {
			return 0, fmt.Errorf("member %q: %w", name, err)
		}
		return memberIssuedAt, nil
	case "nonce":
		return memberNonce, jsonText(name, raw, e.Nonce.UnmarshalText)
	case "body_sha256":
		return memberBodySHA256, jsonText(name, raw, e.BodySHA256.UnmarshalText)
	case "operation":
		bit, s = memberOperation, &e.Operation
	case "auth_method":
		bit, s = memberAuthMethod, &e.AuthMethod
	case "key_id":
		bit, s = memberKeyID, &e.KeyID
	case "client_ip":
		bit, s = memberClientIP, &e.ClientIP
	case "client_tls":
		return memberClientTLS, jsonBool(name, raw, &e.ClientTLS)
	case "model":
		bit, s = memberModel, &e.Model
	case "traceparent":
		bit, s = memberTraceParent, &e.TraceParent
	case "service_tier":
		bit, s = memberServiceTier, &e.ServiceTier
	case "request_metadata_sha256":
		bit, s = memberRequestMetadataSHA256, &e.RequestMetadataSHA256
	default:
		return 0, errUnknownMember
	}
	if len(raw) > 0 && raw[0] == '"' {
		// The string is checked as it is read: one scan, not two.
		v, err := r.string(raw)
		if err != nil {
			return 0, fmt.Errorf("member %q: %w", name, err)
		}
		*s = v
		return bit, nil
	}
	if err := scalar(name, raw); err != nil {
		return 0, err
	}
	if raw[0] == 'n' {
		return bit, nil // null: the field stays empty
	}
	return 0, typeError(name, raw, "a string")
}

// scalar checks that raw is one JSON string, number, true, false or null,
// exactly as the JSON grammar writes it; an object or array is a type
// error (no field of an envelope holds one).
func scalar(name []byte, raw []byte) error {
	if len(raw) == 0 {
		return errors.New("malformed JSON object")
	}
	var ok bool
	switch c := raw[0]; {
	case c == '"':
		ok = validString(raw)
	case c == '-' || c >= '0' && c <= '9':
		ok = validNumber(raw)
	case c == 't':
		ok = string(raw) == "true"
	case c == 'f':
		ok = string(raw) == "false"
	case c == 'n':
		ok = string(raw) == "null"
	case c == '{' || c == '[':
		return typeError(name, raw, "a scalar")
	}
	if !ok {
		return fmt.Errorf("member %q: malformed JSON value", name)
	}
	return nil
}

// typeError reports a value of the wrong JSON type for a member.
func typeError(name []byte, raw []byte, want string) error {
	got := "a number"
	switch raw[0] {
	case '"':
		got = "a string"
	case 't', 'f':
		got = "a boolean"
	case 'n':
		got = "null"
	case '{':
		got = "an object"
	case '[':
		got = "an array"
	}
	return fmt.Errorf("member %q is %s, want %s", name, got, want)
}

// jsonInt sets *v from raw, a JSON integer or null (which leaves *v).
func jsonInt(name []byte, raw []byte, v *int) error {
	if err := scalar(name, raw); err != nil {
		return err
	}
	if raw[0] == 'n' {
		return nil
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return typeError(name, raw, "an integer")
	}
	// The grammar is checked: what ParseInt refuses is a fraction, an
	// exponent or a value out of range, as for encoding/json.
	n, err := strconv.ParseInt(string(raw), 10, strconv.IntSize)
	if err != nil {
		return fmt.Errorf("member %q: %.32s is not an integer in range", name, raw)
	}
	*v = int(n)
	return nil
}

// jsonBool sets *v from raw, true, false or null (which leaves *v).
func jsonBool(name []byte, raw []byte, v *bool) error {
	if err := scalar(name, raw); err != nil {
		return err
	}
	switch raw[0] {
	case 't', 'f':
		*v = raw[0] == 't'
		return nil
	case 'n':
		return nil
	}
	return typeError(name, raw, "a boolean")
}

// jsonText gives unmarshalText (a field's UnmarshalText) the text of raw,
// a JSON string, unescaped; null leaves the field as it is. (A method value
// rather than an interface: through an interface the envelope would escape
// to the heap.)
func jsonText(name []byte, raw []byte, unmarshalText func([]byte) error) error {
	if len(raw) > 0 && raw[0] == '"' {
		// Checked as scalar checks a string, in the one scan that reads it.
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return fmt.Errorf("member %q: malformed JSON value", name)
		}
		inner := raw[1 : len(raw)-1]
		if !plainString(inner) {
			if !json.Valid(raw) {
				return fmt.Errorf("member %q: malformed JSON value", name)
			}
			s, err := jsonString(raw)
			if err != nil {
				return fmt.Errorf("member %q: %w", name, err)
			}
			inner = []byte(s)
		}
		if err := unmarshalText(inner); err != nil {
			return fmt.Errorf("member %q: %w", name, err)
		}
		return nil
	}
	if err := scalar(name, raw); err != nil {
		return err
	}
	if raw[0] == 'n' {
		return nil
	}
	return typeError(name, raw, "a string")
}

// plainString reports whether the content of a JSON string is printable
// ASCII without escapes: the same bytes unescaped. It looks at eight bytes
// at a time (every value of an envelope is plain, and reading one scans it
// once, here).
func plainString(inner []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for len(inner) >= 8 {
		x := binary.LittleEndian.Uint64(inner)
		// A byte of 0x80 or more; else, with every byte below 0x80, the
		// subtractions borrow out of no byte but one below 0x20, equal
		// to '"' or equal to '\\' (the word tests of "Bit Twiddling
		// Hacks", exact when no byte has its high bit set).
		if x&highs != 0 ||
			(x-0x20*ones)&^x&highs != 0 ||
			hasZeroByte(x^('"'*ones)) || hasZeroByte(x^('\\'*ones)) {
			return false
		}
		inner = inner[8:]
	}
	for _, c := range inner {
		if c < 0x20 || c == '\\' || c == '"' || c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// hasZeroByte reports whether one of the bytes of x is zero; every byte
// of x must be below 0x80.
func hasZeroByte(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	return (x-ones)&^x&highs != 0
}

// jsonString returns the value of raw, a JSON string (quotes included),
// as jsonx.String reads it: escapes and non-ASCII bytes go through
// encoding/json, which resolves them (and replaces invalid UTF-8) as it
// always has; the usual plain string is copied out directly.
func jsonString(raw []byte) (string, error) {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return "", errors.New("not a JSON string")
	}
	s, ok := jsonx.String(raw)
	if !ok {
		return "", errors.New("malformed JSON string")
	}
	return s, nil
}

// validString reports whether raw (quotes included) is a well-formed JSON
// string.
func validString(raw []byte) bool {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return false
	}
	if plainString(raw[1 : len(raw)-1]) {
		return true
	}
	return json.Valid(raw)
}

// validNumber reports whether raw is a number as the JSON grammar writes
// it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func validNumber(raw []byte) bool {
	i := 0
	if i < len(raw) && raw[i] == '-' {
		i++
	}
	switch {
	case i < len(raw) && raw[i] == '0':
		i++
	case i < len(raw) && raw[i] >= '1' && raw[i] <= '9':
		i = digits(raw, i)
	default:
		return false
	}
	if i < len(raw) && raw[i] == '.' {
		j := digits(raw, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		if i < len(raw) && (raw[i] == '+' || raw[i] == '-') {
			i++
		}
		j := digits(raw, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(raw)
}

// digits returns the index of the first byte at or after i that is not a
// decimal digit.
func digits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}
