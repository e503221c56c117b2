package bedrock

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// sdkFrame is the frame the AWS encoder writes for the same headers and
// payload.
func sdkFrame(t testing.TB, headers []frameHeader, payload []byte) ([]byte, error) {
	t.Helper()
	var m eventstream.Message
	for _, h := range headers {
		m.Headers.Set(h.name, eventstream.StringValue(h.value))
	}
	m.Payload = payload
	var b bytes.Buffer
	err := eventstream.NewEncoder().Encode(&b, m)
	return b.Bytes(), err
}

// evHeaders is eventHeaders(eventType) as a slice.
func evHeaders(eventType string) []frameHeader {
	h := eventHeaders(eventType)
	return h[:]
}

// TestAppendFrameAsTheSDK: appendFrame writes the AWS encoder's bytes, which
// the AWS decoder reads back, for events, exceptions, empty and large
// payloads, after bytes already in the buffer.
func TestAppendFrameAsTheSDK(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		headers []frameHeader
		payload []byte
	}{
		{"event", evHeaders("contentBlockDelta"), []byte(`{"contentBlockIndex":0,"delta":{"text":"Hi"}}`)},
		{"chunk", evHeaders("chunk"), []byte(`{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0="}`)},
		{"exception", []frameHeader{{":exception-type", "throttlingException"}, {":content-type", "application/json"}, {":message-type", "exception"}}, []byte(`{"message":"slow down"}`)},
		{"empty payload", evHeaders("messageStop"), nil},
		{"large payload", evHeaders("chunk"), bytes.Repeat([]byte("x"), 70000)},
		{"no headers", nil, []byte("{}")},
		{"long value", []frameHeader{{":event-type", strings.Repeat("v", 1000)}}, []byte("{}")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want, err := sdkFrame(t, tc.headers, tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			prefix := []byte("earlier bytes")
			got, err := appendFrame(append([]byte(nil), prefix...), tc.headers, tc.payload)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
				t.Fatalf("frame differs from the AWS encoder's:\n got %x\nwant %x", got[len(prefix):], want)
			}
			m, err := eventstream.NewDecoder().Decode(bytes.NewReader(want), nil)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.Payload, tc.payload) || len(m.Headers) != len(tc.headers) {
				t.Fatalf("decoded %d headers, payload %q", len(m.Headers), m.Payload)
			}
		})
	}
}

// TestAppendFrameRefusesWhatTheSDKRefuses: a header name over 255 bytes or
// a value over 32,767 is an error, as it is for the AWS encoder, and
// nothing is appended.
func TestAppendFrameRefusesWhatTheSDKRefuses(t *testing.T) {
	t.Parallel()
	for _, h := range []frameHeader{{strings.Repeat("n", 256), "v"}, {":event-type", strings.Repeat("v", 1<<15)}} {
		if _, err := sdkFrame(t, []frameHeader{h}, nil); err == nil {
			t.Fatalf("the AWS encoder took a header of %d and %d bytes", len(h.name), len(h.value))
		}
		got, err := appendFrame([]byte("kept"), []frameHeader{h}, nil)
		if err == nil || string(got) != "kept" {
			t.Fatalf("appendFrame of a header of %d and %d bytes: %q, %v", len(h.name), len(h.value), got, err)
		}
	}
}

// TestAppendFrameAllocs pins the allocations of framing a relayed event:
// none once the reused buffer has grown.
func TestAppendFrameAllocs(t *testing.T) {
	payload := []byte(`{"contentBlockIndex":0,"delta":{"text":"Hello"}}`)
	var buf []byte
	n := testing.AllocsPerRun(100, func() {
		h := eventHeaders("contentBlockDelta")
		buf, _ = appendFrame(buf[:0], h[:], payload)
	})
	if n != 0 {
		t.Fatalf("%v allocations a frame, want 0", n)
	}
}

// FuzzAppendFrame holds appendFrame to the AWS encoder's bytes and errors.
func FuzzAppendFrame(f *testing.F) {
	f.Add(":event-type", "chunk", ":content-type", "application/json", []byte(`{"bytes":"AA=="}`))
	f.Add("", "", "x", strings.Repeat("y", 300), []byte{})
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2 string, payload []byte) {
		headers := []frameHeader{{n1, v1}, {n2, v2}}
		if n1 == n2 {
			headers = headers[:1] // the SDK's Set replaces a header of the same name
			headers[0].value = v2
		}
		want, werr := sdkFrame(t, headers, payload)
		got, gerr := appendFrame(nil, headers, payload)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("errors differ: sdk %v, appendFrame %v", werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("frame differs:\n got %x\nwant %x", got, want)
		}
	})
}

// BenchmarkFrameEncoding is one relayed event's frame written: appendFrame
// against the AWS encoder.
func BenchmarkFrameEncoding(b *testing.B) {
	payload := []byte(`{"contentBlockIndex":0,"delta":{"text":"Hello"}}`)
	b.Run("appendFrame", func(b *testing.B) {
		var w bytes.Buffer
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			w.Reset()
			h := eventHeaders("contentBlockDelta")
			buf, _ = appendFrame(buf[:0], h[:], payload)
			w.Write(buf)
		}
	})
	b.Run("sdk", func(b *testing.B) {
		var w bytes.Buffer
		enc := eventstream.NewEncoder()
		b.ReportAllocs()
		for b.Loop() {
			w.Reset()
			var m eventstream.Message
			m.Headers.Set(":event-type", eventstream.StringValue("contentBlockDelta"))
			m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
			m.Headers.Set(":message-type", eventstream.StringValue("event"))
			m.Payload = payload
			enc.Encode(&w, m)
		}
	})
}
