package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"
)

// envelopeV1 is the version 1 form as encoding/json wrote it: a version 1
// receiver refuses unknown fields, so the version 2 fields were left out,
// not sent empty.
type envelopeV1 struct {
	Version           int       `json:"v"`
	RequestID         string    `json:"request_id"`
	SourceRegion      string    `json:"source_region"`
	DestinationRegion string    `json:"destination_region"`
	PrincipalID       string    `json:"principal_id"`
	ProfileARN        string    `json:"profile_arn"`
	IssuedAt          time.Time `json:"issued_at"`
	Nonce             Nonce     `json:"nonce"`
	BodySHA256        Digest    `json:"body_sha256"`
}

// encodeEncodingJSON is the encoder encode replaced, the reference the
// differential tests hold it to.
func encodeEncodingJSON(e *Envelope) ([]byte, error) {
	if e.Version == 1 {
		return json.Marshal(envelopeV1{Version: 1, RequestID: e.RequestID, SourceRegion: e.SourceRegion,
			DestinationRegion: e.DestinationRegion, PrincipalID: e.PrincipalID, ProfileARN: e.ProfileARN,
			IssuedAt: e.IssuedAt, Nonce: e.Nonce, BodySHA256: e.BodySHA256})
	}
	return json.Marshal(e)
}

// checkEncode fails t unless encode and encodeB64 write exactly what
// encoding/json writes for e, and fail where it fails.
func checkEncode(t *testing.T, e *Envelope) {
	t.Helper()
	want, wantErr := encodeEncodingJSON(e)
	got, err := encode(e)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("encode(%+v) error %v, encoding/json %v", e, err, wantErr)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encode(%+v)\n got %s\nwant %s", e, got, want)
	}
	payload, header, err := encodeB64(e)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("encodeB64(%+v) error %v, encoding/json %v", e, err, wantErr)
	}
	if !bytes.Equal(payload, want) || header != base64.RawURLEncoding.EncodeToString(want) {
		t.Fatalf("encodeB64(%+v) = %s, %s; want %s", e, payload, header, want)
	}
}

// fullEnvelope is a version 4 envelope with every field set.
func fullEnvelope() Envelope {
	return Envelope{Version: Version, RequestID: "01JDQ6W4Z8K3T9N2M5P7R1S0VX", SourceRegion: "eu-west-1", DestinationRegion: "eu-central-1",
		PrincipalID: "alice", ProfileARN: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small",
		IssuedAt: time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC), Nonce: Nonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		BodySHA256: HashBody([]byte("body")), Operation: "Converse", AuthMethod: "apiKey", KeyID: "key-0123456789ab",
		ClientIP: "198.51.100.7", ClientTLS: true, Model: "demo.chat-small",
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ServiceTier: "flex"}
}

// TestEncodeB64Header: the header encodeB64 writes in chunks is the
// base64url of the whole payload, for payloads from under one chunk to
// several, ending at every offset within a 3-byte group, beyond the
// encoding scratch buffer too.
func TestEncodeB64Header(t *testing.T) {
	t.Parallel()
	for n := 0; n <= 3*maxField; n++ {
		e := fullEnvelope()
		long := string(bytes.Repeat([]byte{'a' + byte(n%26)}, maxField))
		e.RequestID = long[:min(n, maxField)]
		e.PrincipalID = long[:max(0, min(n-maxField, maxField))]
		e.Model = long[:max(0, min(n-2*maxField, maxField))]
		payload, header, err := encodeB64(&e)
		if err != nil {
			t.Fatal(err)
		}
		if want := base64.RawURLEncoding.EncodeToString(payload); header != want {
			t.Fatalf("payload of %d bytes: header %q, want %q", len(payload), header, want)
		}
		if direct, _ := encode(&e); !bytes.Equal(payload, direct) {
			t.Fatalf("payload of %d bytes differs from encode's", len(payload))
		}
	}
}

// TestEncodeMatchesEncodingJSON: on each envelope, encode writes the bytes
// encoding/json wrote, byte for byte, including every escape a string can
// need and every form of the time.
func TestEncodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	tests := map[string]func(e *Envelope){
		"every field":                   func(e *Envelope) {},
		"version 1":                     func(e *Envelope) { e.Version = 1 },
		"version 2":                     func(e *Envelope) { e.Version, e.TraceParent, e.ServiceTier = 2, "", "" },
		"version 3":                     func(e *Envelope) { e.Version, e.ServiceTier = 3, "" },
		"zero envelope":                 func(e *Envelope) { *e = Envelope{} },
		"no trace, default tier":        func(e *Envelope) { e.TraceParent, e.ServiceTier = "", "" },
		"client TLS false":              func(e *Envelope) { e.ClientTLS = false },
		"negative version":              func(e *Envelope) { e.Version = -12 },
		"whole seconds":                 func(e *Envelope) { e.IssuedAt = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
		"milliseconds":                  func(e *Envelope) { e.IssuedAt = time.Date(2026, 1, 2, 3, 4, 5, 120000000, time.UTC) },
		"time zone offset":              func(e *Envelope) { e.IssuedAt = time.Date(2026, 1, 2, 3, 4, 5, 6, paris) },
		"local time with monotonic":     func(e *Envelope) { e.IssuedAt = time.Now() },
		"year 0":                        func(e *Envelope) { e.IssuedAt = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC) },
		"year 10000 fails":              func(e *Envelope) { e.IssuedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"negative year fails":           func(e *Envelope) { e.IssuedAt = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		"quotes and backslashes":        func(e *Envelope) { e.PrincipalID = `a"b\c"` },
		"HTML characters":               func(e *Envelope) { e.KeyID = "<script>&amp;</script>" },
		"control characters":            func(e *Envelope) { e.RequestID = "\x00\x01\b\f\n\r\t\x1f\x7f end" },
		"line and paragraph separators": func(e *Envelope) { e.Model = "a\u2028b\u2029c\u2027d" },
		"invalid UTF-8":                 func(e *Envelope) { e.ClientIP = "a\xffb\xc3\x28c\xed\xa0\x80d\xf0\x9f\x98" },
		"multi-byte UTF-8":              func(e *Envelope) { e.Operation = "héllo, 世界, 😀" },
		"escapes in version 1":          func(e *Envelope) { e.Version, e.ProfileARN = 1, "<\u2028\xff>" },
		"tier and trace escaped":        func(e *Envelope) { e.TraceParent, e.ServiceTier = "<&>", "\"\n" },
	}
	for name, edit := range tests {
		t.Run(name, func(t *testing.T) {
			e := fullEnvelope()
			edit(&e)
			checkEncode(t, &e)
		})
	}
}

// FuzzEncodeMatchesEncodingJSON holds encode to encoding/json on arbitrary
// field values: the same bytes, and an error exactly where encoding/json
// fails.
func FuzzEncodeMatchesEncodingJSON(f *testing.F) {
	e := fullEnvelope()
	f.Add(e.Version, e.RequestID, e.PrincipalID, e.ProfileARN, e.Operation, e.Model, e.TraceParent, e.ServiceTier,
		e.IssuedAt.Unix(), int64(e.IssuedAt.Nanosecond()), 0, e.Nonce[:], e.ClientTLS)
	f.Add(1, "<r>", "\u2028", "\xff", "\x00", "é", "", "", int64(-62135596800), int64(0), -3600, []byte{}, false)
	f.Add(2, `"`, `\`, "&", "\n\t", "😀", "x", "y", int64(253402300800), int64(999999999), 86399, []byte{0xff}, true)
	f.Fuzz(func(t *testing.T, version int, requestID, principal, arn, operation, model, traceParent, tier string,
		sec, nsec int64, offset int, nonce []byte, clientTLS bool) {
		e := fullEnvelope()
		e.Version, e.RequestID, e.PrincipalID, e.ProfileARN = version, requestID, principal, arn
		e.Operation, e.Model, e.TraceParent, e.ServiceTier, e.ClientTLS = operation, model, traceParent, tier, clientTLS
		e.IssuedAt = time.Unix(sec, nsec).In(time.FixedZone("", offset))
		copy(e.Nonce[:], nonce)
		copy(e.BodySHA256[:], requestID)
		checkEncode(t, &e)
	})
}
