package bedrock

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
)

// discardFlusher is a ResponseWriter that drops what it is given.
type discardFlusher struct {
	h http.Header
	n int
}

func (d *discardFlusher) Header() http.Header         { return d.h }
func (d *discardFlusher) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }
func (d *discardFlusher) WriteHeader(int)             {}
func (d *discardFlusher) Flush()                      {}

// TestEventFrameDecodes: what eventWriter writes is a frame the SDK's
// decoder reads back with the headers the SDK dispatches on.
func TestEventFrameDecodes(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := &recorder{discardFlusher: discardFlusher{h: http.Header{}}, buf: &buf}
	ew := newEventWriter(w)
	if !ew.event("contentBlockDelta", contentBlockDeltaEvent{Delta: textBlock{Text: "Hel"}}) || !ew.exception("throttlingException", "slow down") {
		t.Fatal(ew.err)
	}
	dec := eventstream.NewDecoder()
	for _, want := range []struct{ typ, name, payload string }{
		{"event", "contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hel"}}`},
		{"exception", "throttlingException", `{"message":"slow down"}`},
	} {
		m, err := dec.Decode(&buf, nil)
		if err != nil {
			t.Fatal(err)
		}
		nameHeader := ":event-type"
		if want.typ == "exception" {
			nameHeader = ":exception-type"
		}
		if got := m.Headers.Get(":message-type").String(); got != want.typ {
			t.Errorf(":message-type = %s, want %s", got, want.typ)
		}
		if got := m.Headers.Get(nameHeader).String(); got != want.name {
			t.Errorf("%s = %s, want %s", nameHeader, got, want.name)
		}
		if string(m.Payload) != want.payload {
			t.Errorf("payload = %s, want %s", m.Payload, want.payload)
		}
	}
}

type recorder struct {
	discardFlusher
	buf *bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error) { return r.buf.Write(p) }

// BenchmarkEventFrame is the cost of one ConverseStream text delta on the
// wire: JSON payload, event-stream framing with CRCs, and a flush.
func BenchmarkEventFrame(b *testing.B) {
	w := &discardFlusher{h: http.Header{}}
	ew := newEventWriter(w)
	ev := contentBlockDeltaEvent{Delta: textBlock{Text: "a typical token "}}
	b.ReportAllocs()
	for b.Loop() {
		if !ew.event("contentBlockDelta", ev) {
			b.Fatal(ew.err)
		}
	}
	b.ReportMetric(float64(w.n)/float64(b.N), "bytes/event")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
