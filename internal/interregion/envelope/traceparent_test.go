package envelope_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

const validTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func traced(version int, tp string) envelope.Envelope {
	return envelope.Envelope{Version: version, RequestID: "req-1", SourceRegion: "eu-west-1", DestinationRegion: "eu-central-1",
		ProfileARN: "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small", IssuedAt: time.Unix(1_800_000_000, 0).UTC(),
		TraceParent: tp}
}

// TestTraceParent: version 3 carries the source attempt's traceparent; a
// peer on version 2 is sent the envelope without it (it would refuse the
// field), and a malformed one is never sealed or accepted.
func TestTraceParent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		version int
		tp      string
		want    string // decoded traceparent
		wantErr string // from sealing
	}{
		{"version 3 carries it", 0, validTraceParent, validTraceParent, ""},
		{"not sampled", 3, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", ""},
		{"untraced", 3, "", "", ""},
		{"a version 2 peer is sent none", 2, validTraceParent, "", ""},
		{"a version 1 peer is sent none", 1, validTraceParent, "", ""},
		{"upper-case hex", 3, strings.ToUpper(validTraceParent), "", "not a W3C traceparent"},
		{"zero trace id", 3, "00-00000000000000000000000000000000-00f067aa0ba902b7-01", "", "not a W3C traceparent"},
		{"zero span id", 3, "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "", "not a W3C traceparent"},
		{"unknown version", 3, "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "", "not a W3C traceparent"},
		{"too long", 3, validTraceParent + "-extra", "", "not a W3C traceparent"},
		{"not hex", 3, "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", "", "not a W3C traceparent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sealed, err := envelope.Unsigned(traced(tc.version, tc.tp))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Unsigned(traceparent %q) error = %v, want %q", tc.tp, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Unsigned(traceparent %q): %v", tc.tp, err)
			}
			raw, _ := base64.RawURLEncoding.DecodeString(sealed.Envelope)
			if tc.want == "" && strings.Contains(string(raw), "traceparent") {
				t.Errorf("payload %s carries a traceparent", raw)
			}
			e, err := envelope.Decode(sealed.Envelope)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if e.TraceParent != tc.want {
				t.Errorf("decoded traceparent = %q, want %q", e.TraceParent, tc.want)
			}
		})
	}
}

// TestTraceParentNeedsVersion3: a payload that claims an older version
// but carries the version 3 field is malformed, as any unknown field is.
func TestTraceParentNeedsVersion3(t *testing.T) {
	t.Parallel()
	sealed, err := envelope.Unsigned(traced(3, validTraceParent))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(sealed.Envelope)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["v"] = 2
	raw, _ = json.Marshal(m)
	_, err = envelope.Decode(base64.RawURLEncoding.EncodeToString(raw))
	if err == nil || !strings.Contains(err.Error(), "traceparent is not a field of version 2") {
		t.Errorf("Decode(version 2 with traceparent) error = %v, want a refusal", err)
	}
}

// FuzzTraceParent: whatever a source puts in traceparent, sealing either
// refuses it or carries it unchanged, and only a W3C version 00 form.
func FuzzTraceParent(f *testing.F) {
	f.Add(validTraceParent)
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
	f.Add("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("")
	f.Fuzz(func(t *testing.T, tp string) {
		sealed, err := envelope.Unsigned(traced(3, tp))
		if err != nil {
			return
		}
		e, err := envelope.Decode(sealed.Envelope)
		if err != nil {
			t.Fatalf("Decode of a sealed envelope: %v", err)
		}
		if e.TraceParent != tp {
			t.Fatalf("traceparent %q came back as %q", tp, e.TraceParent)
		}
		if tp != "" && (len(tp) != 55 || strings.ToLower(tp) != tp || !strings.HasPrefix(tp, "00-")) {
			t.Fatalf("sealed a malformed traceparent %q", tp)
		}
	})
}
