package backend

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

func encodeFrame(t testing.TB, eventType string, payload []byte, extra ...eventstream.Header) []byte {
	var m eventstream.Message
	m.Headers.Set(":event-type", eventstream.StringValue(eventType))
	m.Headers.Set(":message-type", eventstream.StringValue("event"))
	for _, h := range extra {
		m.Headers.Set(h.Name, h.Value)
	}
	m.Payload = payload
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReadFrame: frames written by the AWS encoder, with headers of every
// type, read back with their event type and payload.
func TestReadFrame(t *testing.T) {
	t.Parallel()
	in := encodeFrame(t, "contentBlockDelta", []byte(`{"delta":{"text":"hi"}}`),
		eventstream.Header{Name: "b", Value: eventstream.BoolValue(true)}, eventstream.Header{Name: "i", Value: eventstream.Int64Value(7)},
		eventstream.Header{Name: "u", Value: eventstream.UUIDValue{}}, eventstream.Header{Name: "x", Value: eventstream.BytesValue("xy")})
	var buf []byte
	f, err := readFrame(bytes.NewReader(append(in, in...)), &buf)
	if err != nil || string(f.eventType) != "contentBlockDelta" || string(f.messageType) != "event" || string(f.payload) != `{"delta":{"text":"hi"}}` {
		t.Fatalf("readFrame = %q %q %q, %v", f.eventType, f.messageType, f.payload, err)
	}
	in[len(in)-1] ^= 1
	if _, err := readFrame(bytes.NewReader(in), &buf); err == nil {
		t.Fatal("a corrupted frame was accepted")
	}
}

// FuzzReadFrame: any bytes from an upstream never panic the frame reader.
func FuzzReadFrame(f *testing.F) {
	f.Add(encodeFrame(f, "messageStop", []byte(`{"stopReason":"end_turn"}`)))
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var buf []byte
		r := bytes.NewReader(b)
		for range 4 {
			fr, err := readFrame(r, &buf)
			if err != nil {
				return
			}
			if len(fr.payload) > len(b) {
				t.Fatalf("payload of %d bytes from %d", len(fr.payload), len(b))
			}
		}
	})
}
