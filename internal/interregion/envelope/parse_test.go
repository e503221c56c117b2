package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// parseEncodingJSON is the envelope reader parse replaced: encoding/json
// with DisallowUnknownFields, nothing after the object, then validate. It
// is the reference the differential tests hold parse to.
func parseEncodingJSON(payload []byte) (Envelope, error) {
	var e Envelope
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Envelope{}, err
	}
	if dec.More() {
		return Envelope{}, errors.New("data after the JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Envelope{}, errors.New("data after the JSON object")
	}
	if err := e.validate(); err != nil {
		return Envelope{}, err
	}
	return e, nil
}

// fullPayload is a version 4 envelope with every field set, as Sign
// writes it.
func fullPayload(tb testing.TB) []byte {
	tb.Helper()
	e := Envelope{Version: Version, RequestID: "01JDQ6W4Z8K3T9N2M5P7R1S0VX", SourceRegion: "eu-west-1", DestinationRegion: "eu-central-1",
		PrincipalID: "alice", ProfileARN: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small",
		IssuedAt: time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC), Nonce: Nonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		BodySHA256: HashBody([]byte("body")), Operation: "Converse", AuthMethod: "apiKey", KeyID: "key-0123456789ab",
		ClientIP: "198.51.100.7", ClientTLS: true, Model: "demo.chat-small",
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ServiceTier: "flex"}
	b, err := encode(&e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// v1Payload is the smallest envelope every node accepts.
const v1Payload = `{"v":1,"request_id":"r","source_region":"a","destination_region":"b","profile_arn":"p","issued_at":"2026-11-25T10:00:00Z","nonce":"AAAAAAAAAAAAAAAAAAAAAQ","body_sha256":"00000000000000000000000000000000000000000000000000000000000000ff"}`

// v1With returns v1Payload with the member text added before its end.
func v1With(members string) string { return v1Payload[:len(v1Payload)-1] + "," + members + "}" }

// v1Replace returns v1Payload with the value of member replaced by value.
func v1Replace(member, value string) string {
	var m map[string]json.RawMessage
	json.Unmarshal([]byte(v1Payload), &m)
	old := `"` + member + `":` + string(m[member])
	return strings.Replace(v1Payload, old, `"`+member+`":`+value, 1)
}

// parseCases are payloads where parse agrees with encoding/json, each
// either accepted or refused by both.
var parseCases = []struct {
	name    string
	payload string
	ok      bool
}{
	{"version 1", v1Payload, true},
	{"white space around everything", " \t\r\n{ \"v\" :\n1\t,\r\n\"request_id\":\"r\" , \"source_region\":\"a\",\"destination_region\":\"b\",\"profile_arn\":\"p\",\"issued_at\":\"2026-11-25T10:00:00Z\",\"nonce\":\"AAAAAAAAAAAAAAAAAAAAAQ\",\"body_sha256\":\"00000000000000000000000000000000000000000000000000000000000000ff\"\n} \n", true},
	{"escaped member name", strings.Replace(v1Payload, `"request_id"`, `"request\u005fid"`, 1), true},
	{"escaped string", v1Replace("request_id", `"r\u00e9q\"\\\/\b\f\n\r\t"`), true},
	{"non-ASCII string", v1Replace("request_id", `"réq-🙂"`), true},
	{"invalid UTF-8 replaced", v1Replace("request_id", "\"r\xffq\""), true},
	{"lone surrogate replaced", v1Replace("request_id", `"r\ud800q"`), true},
	{"escaped nonce", v1Replace("nonce", `"\u0041AAAAAAAAAAAAAAAAAAAAQ"`), true},
	{"null principal", v1With(`"principal_id":null`), true},
	{"null version after one", v1Replace("v", `null`), false},
	{"null body hash", v1Replace("body_sha256", `null`), true},
	{"null nonce", v1Replace("nonce", `null`), false},
	{"null issued_at", v1Replace("issued_at", `null`), false},
	{"version -0", v1Replace("v", `-0`), false},
	{"version 1.0", v1Replace("v", `1.0`), false},
	{"version 1e0", v1Replace("v", `1e0`), false},
	{"version 01", v1Replace("v", `01`), false},
	{"version +1", v1Replace("v", `+1`), false},
	{"version as a string", v1Replace("v", `"1"`), false},
	{"version out of range", v1Replace("v", `99999999999999999999`), false},
	{"string as a number", v1Replace("request_id", `5`), false},
	{"string as true", v1Replace("request_id", `true`), false},
	{"string as an object", v1Replace("request_id", `{"a":1}`), false},
	{"string as an array", v1Replace("request_id", `["r"]`), false},
	{"string with a control character", v1Replace("request_id", "\"r\x01\""), false},
	{"string with a bad escape", v1Replace("request_id", `"r\x"`), false},
	{"string with a short unicode escape", v1Replace("request_id", `"r\u00"`), false},
	{"client_tls true in version 1", v1With(`"client_tls":true`), true},
	{"client_tls as a string", v1With(`"client_tls":"true"`), false},
	{"client_tls as a number", v1With(`"client_tls":1`), false},
	{"misspelt literal", v1With(`"client_tls":tru`), false},
	{"literal with a tail", v1With(`"client_tls":truex`), false},
	{"issued_at escaped", v1Replace("issued_at", `"2026-11-25T10:00:00\u005a"`), false},
	{"issued_at as a number", v1Replace("issued_at", `1764064800`), false},
	{"issued_at not RFC 3339", v1Replace("issued_at", `"2026-11-25 10:00:00Z"`), false},
	{"nonce too short", v1Replace("nonce", `"AAAA"`), false},
	{"nonce as an array", v1Replace("nonce", `[0,1]`), false},
	{"digest upper-case", v1Replace("body_sha256", `"00000000000000000000000000000000000000000000000000000000000000FF"`), false},
	{"unknown member", v1With(`"admin":true`), false},
	{"unknown member with an object", v1With(`"x":{"y":[1,{"z":null}]}`), false},
	{"traceparent in version 1", v1With(`"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`), false},
	{"trailing comma", v1Payload[:len(v1Payload)-1] + ",}", false},
	{"missing colon", `{"v" 1}`, false},
	{"trailing object", v1Payload + "{}", false},
	{"trailing brace", v1Payload + "}", false},
	{"trailing garbage", v1Payload + " x", false},
	{"truncated", v1Payload[:len(v1Payload)-1], false},
	{"empty object", `{}`, false},
	{"empty", ``, false},
	{"white space only", " ", false},
	{"null", `null`, false},
	{"array", `[]`, false},
	{"string", `"v"`, false},
	{"byte order mark", "\ufeff" + v1Payload, false},
	{"vertical tab", "\v" + v1Payload, false},
	{"single quotes", `{'v':1}`, false},
}

// TestParseMatchesEncodingJSON: on each case, parse accepts or refuses as
// encoding/json did, and what both accept reads the same.
func TestParseMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	cases := append(parseCases[:len(parseCases):len(parseCases)], struct {
		name    string
		payload string
		ok      bool
	}{"every field", string(fullPayload(t)), true})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parse([]byte(tc.payload))
			want, wantErr := parseEncodingJSON([]byte(tc.payload))
			if (wantErr == nil) != tc.ok {
				t.Fatalf("the case is wrong: encoding/json gives %v on %q", wantErr, tc.payload)
			}
			if (err == nil) != tc.ok {
				t.Fatalf("parse(%q) = %v, want ok=%v (encoding/json: %v)", tc.payload, err, tc.ok, wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("parse(%q) = %+v, encoding/json read %+v", tc.payload, got, want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "decode envelope: ") {
				t.Errorf("parse(%q) error %q does not say what it decoded", tc.payload, err)
			}
		})
	}
}

// TestParseStricterThanEncodingJSON: the two refusals parse adds. A member
// named twice (encoding/json kept the last) and a member name that only
// folds to a field's (encoding/json matched names case-insensitively).
func TestParseStricterThanEncodingJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		payload string
		errText string
	}{
		{"version twice", v1With(`"v":1`), `member "v" appears twice`},
		{"request id twice, the second a forgery", v1With(`"request_id":"admin"`), `member "request_id" appears twice`},
		{"twice, the second null", v1With(`"principal_id":"a","principal_id":null`), `member "principal_id" appears twice`},
		{"twice, the second escaped", v1With(`"request\u005fid":"r"`), `member "request_id" appears twice`},
		{"upper-case name", strings.Replace(v1Payload, `"v"`, `"V"`, 1), `unknown member "V"`},
		{"mixed-case name", strings.Replace(v1Payload, `"request_id"`, `"Request_ID"`, 1), `unknown member "Request_ID"`},
		{"Kelvin sign for k", v1With(`"\u212aey_id":"k"`), "unknown member"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := parseEncodingJSON([]byte(tc.payload)); err != nil {
				t.Fatalf("the case is wrong: encoding/json refuses %q: %v", tc.payload, err)
			}
			_, err := parse([]byte(tc.payload))
			if err == nil || !strings.Contains(err.Error(), tc.errText) {
				t.Fatalf("parse(%q) = %v, want an error with %q", tc.payload, err, tc.errText)
			}
		})
	}
}

// stricterOn reports whether payload has a member named twice, or one whose
// name is not exactly an envelope field's: the inputs on which parse may
// refuse what encoding/json accepted.
func stricterOn(payload []byte) bool {
	fields := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Envelope]()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		fields[name] = true
	}
	seen := map[string]bool{}
	stricter := false
	jsonx.Members(payload, func(rawKey, _ []byte) error {
		var k string
		if json.Unmarshal(rawKey, &k) != nil {
			return nil
		}
		if seen[k] || !fields[k] {
			stricter = true
		}
		seen[k] = true
		return nil
	})
	return stricter
}

// FuzzParseMatchesEncodingJSON holds parse to encoding/json on arbitrary
// payloads: the same verdict (but where parse is documented to be
// stricter: a member named twice or a name only folded to a field's), and
// the same envelope when both accept. parse must never accept what
// encoding/json refused.
func FuzzParseMatchesEncodingJSON(f *testing.F) {
	f.Add(fullPayload(f))
	f.Add([]byte(v1Payload))
	for _, tc := range parseCases {
		f.Add([]byte(tc.payload))
	}
	f.Add([]byte(v1With(`"v":1`)))
	f.Add([]byte(strings.Replace(v1Payload, `"v"`, `"V"`, 1)))
	f.Fuzz(func(t *testing.T, payload []byte) {
		got, err := parse(payload)
		want, wantErr := parseEncodingJSON(payload)
		switch {
		case err == nil && wantErr != nil:
			t.Fatalf("parse accepted %q, which encoding/json refuses: %v", payload, wantErr)
		case err != nil && wantErr == nil && !stricterOn(payload):
			t.Fatalf("parse refused %q, which encoding/json accepts: %v", payload, err)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("parse(%q) = %+v, encoding/json read %+v", payload, got, want)
		}
	})
}

// BenchmarkParse measures reading one envelope's JSON payload (every field
// of version 4 set), by parse and, as the baseline of the same run, by
// encoding/json as the link did before; parse reports its speed-up.
func BenchmarkParse(b *testing.B) {
	payload := fullPayload(b)
	var baseline float64
	for _, tc := range []struct {
		name  string
		parse func([]byte) (Envelope, error)
	}{{"encoding-json", parseEncodingJSON}, {"parse", parse}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if _, err := tc.parse(payload); err != nil {
					b.Fatal(err)
				}
			}
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			if tc.name == "encoding-json" {
				baseline = ns
			} else if baseline > 0 {
				b.ReportMetric(baseline/ns, "x-faster-than-encoding-json")
			}
		})
	}
}
