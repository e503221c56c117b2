package envelope

import (
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
)

// metadataValue is a request metadata header as a source writes it.
const metadataValue = `{"team":"claims","ticket":"CLM-42"}`

// TestRequestMetadataField: version 5's request_metadata_sha256 is
// written as encoding/json writes it, read back by parse as encoding/json
// reads it, refused on an older version (never dropped: a sender that
// seals it for an older peer fails) and when it is not a lower-case hex
// SHA-256.
func TestRequestMetadataField(t *testing.T) {
	t.Parallel()
	e := fullEnvelope()
	e.RequestMetadataSHA256 = HashRequestMetadata(metadataValue)
	checkEncode(t, &e)
	payload, err := encode(&e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(payload), `,"service_tier":"flex","request_metadata_sha256":"`+e.RequestMetadataSHA256+`"}`) {
		t.Errorf("payload %s", payload)
	}
	got, err := parse(payload)
	want, wantErr := parseEncodingJSON(payload)
	if err != nil || wantErr != nil || !reflect.DeepEqual(got, want) || got.RequestMetadataSHA256 != e.RequestMetadataSHA256 {
		t.Fatalf("parse = %+v, %v; encoding/json %+v, %v", got, err, want, wantErr)
	}

	tests := []struct {
		name    string
		version int
		sum     string
		wantErr string
	}{
		{"version 5", 5, e.RequestMetadataSHA256, ""},
		{"newest by default", 0, e.RequestMetadataSHA256, ""},
		{"version 4 cannot carry it", 4, e.RequestMetadataSHA256, "request_metadata_sha256 is not a field of version 4"},
		{"version 1 cannot carry it", 1, e.RequestMetadataSHA256, "request_metadata_sha256 is not a field of version 1"},
		{"upper-case hex", 5, strings.ToUpper(e.RequestMetadataSHA256), "is not a lower-case hex SHA-256"},
		{"short", 5, e.RequestMetadataSHA256[:63], "is not a lower-case hex SHA-256"},
		{"not hex", 5, strings.Repeat("g", 64), "is not a lower-case hex SHA-256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := fullEnvelope()
			e.Version, e.RequestMetadataSHA256 = tc.version, tc.sum
			if tc.version < 4 {
				e.ServiceTier = ""
			}
			sealed, err := Unsigned(e)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Unsigned = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			d, err := Decode(sealed.Envelope)
			if err != nil || d.RequestMetadataSHA256 != tc.sum || d.Version != Version {
				t.Fatalf("Decode = v%d %q, %v", d.Version, d.RequestMetadataSHA256, err)
			}
		})
	}

	// A payload that claims version 4 but carries the field is malformed.
	forged := strings.Replace(string(payload), `"v":5`, `"v":4`, 1)
	if _, err := Decode(base64.RawURLEncoding.EncodeToString([]byte(forged))); err == nil || !strings.Contains(err.Error(), "request_metadata_sha256 is not a field of version 4") {
		t.Errorf("Decode of a version 4 envelope with request_metadata_sha256 = %v, want refused", err)
	}
}

// TestCheckRequestMetadata: the header must hash to the envelope's
// request_metadata_sha256 when it is set, and is ignored when it is not.
func TestCheckRequestMetadata(t *testing.T) {
	t.Parallel()
	signed := Envelope{RequestMetadataSHA256: HashRequestMetadata(metadataValue)}
	tests := []struct {
		name  string
		e     Envelope
		value string
		ok    bool
	}{
		{"matches", signed, metadataValue, true},
		{"changed", signed, `{"team":"other","ticket":"CLM-42"}`, false},
		{"a byte more", signed, metadataValue + " ", false},
		{"missing", signed, "", false},
		{"no field, no header", Envelope{}, "", true},
		{"no field: the header is ignored", Envelope{}, metadataValue, true},
		{"a field of the empty value", Envelope{RequestMetadataSHA256: HashRequestMetadata("")}, "", false},
	}
	for _, tc := range tests {
		err := tc.e.CheckRequestMetadata(tc.value)
		if tc.ok != (err == nil) {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
			continue
		}
		if r, _ := ReasonOf(err); err != nil && (r != ReasonRequestMetadataHash || r.String() != "request_metadata_hash") {
			t.Errorf("%s: reason %v", tc.name, r)
		}
	}
}

// FuzzParseRequestMetadataField: parse and encoding/json agree on
// payloads with any request_metadata_sha256 value.
func FuzzParseRequestMetadataField(f *testing.F) {
	f.Add(HashRequestMetadata(metadataValue), 5)
	f.Add("", 5)
	f.Add("\u00e9", 4)
	f.Add(`\"`, 1)
	f.Fuzz(func(t *testing.T, sum string, version int) {
		e := fullEnvelope()
		e.Version, e.RequestMetadataSHA256 = version, sum
		payload, err := encodeEncodingJSON(&e)
		if err != nil {
			return
		}
		got, err := parse(payload)
		want, wantErr := parseEncodingJSON(payload)
		switch {
		case (err == nil) != (wantErr == nil):
			t.Fatalf("parse %q: %v; encoding/json %v", payload, err, wantErr)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("parse(%q) = %+v, encoding/json read %+v", payload, got, want)
		}
	})
}
