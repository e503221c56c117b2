package interregion

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// encodeLine writes one stream line (an NDJSON line's content) as the
// stream frame a destination writes for it.
func encodeLine(tb testing.TB, l streamLine) []byte {
	tb.Helper()
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	fw := frameWriter{w: bw}
	var err error
	switch {
	case l.Event != nil:
		err = fw.writeEvent(l.Event)
	case l.End:
		err = fw.writeEnd(l.Receipt)
	case l.Error != nil:
		err = fw.writeError(*l.Error)
	default:
		tb.Fatal("empty stream line")
	}
	if err != nil || bw.Flush() != nil {
		tb.Fatalf("write frame: %v", err)
	}
	return b.Bytes()
}

// hexDump writes b as hex, 16 bytes a line: the form of frame.golden.
func hexDump(b []byte) string {
	var s strings.Builder
	for i := 0; i < len(b); i += 16 {
		line := b[i:min(i+16, len(b))]
		for j, c := range line {
			if j > 0 {
				s.WriteByte(' ')
			}
			fmt.Fprintf(&s, "%02x", c)
		}
		s.WriteByte('\n')
	}
	return s.String()
}

// parseHexDump reads hexDump's output; lines starting with # are comments.
func parseHexDump(tb testing.TB, s string) []byte {
	tb.Helper()
	var out []byte
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(line), " ", ""))
		if err != nil {
			tb.Fatalf("hex dump line %q: %v", line, err)
		}
		out = append(out, b...)
	}
	return out
}

// TestStreamFramesGolden pins the bytes of stream frames: each case under
// testdata/stream-frames holds line.json, a stream line as NDJSON carries
// it, and frame.golden, the frame a destination writes for it (hex, 16
// bytes a line). The golden bytes must also read back as the line, so a
// change that breaks peers already deployed fails here. Run with -update
// to rewrite the golden files after a deliberate format change (which then
// needs a new media type version).
func TestStreamFramesGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/stream-frames/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join(dir, "line.json"))
			if err != nil {
				t.Fatal(err)
			}
			var line streamLine
			if err := json.Unmarshal(in, &line); err != nil {
				t.Fatalf("line.json: %v", err)
			}
			got := hexDump(encodeLine(t, line))
			goldenPath := filepath.Join(dir, "frame.golden")
			want := checkGolden(t, goldenPath, got, fmt.Sprintf("frame of %s", in))

			// The golden bytes read back as the line.
			var receipt string
			st := newRemoteStream(dst, io.NopCloser(bytes.NewReader(parseHexDump(t, string(want)))), func() {}, true,
				func(r string) { receipt = r })
			ev, err := st.Recv()
			var back streamLine
			switch {
			case err == nil:
				back.Event = &ev
			case err == io.EOF:
				back.End, back.Receipt = true, receipt
			default:
				var e *inference.Error
				var pe *PeerError
				if !errors.As(err, &e) || !errors.As(err, &pe) {
					t.Fatalf("Recv() = %v, want an error the peer reported", err)
				}
				we := toWire(e)
				we.Message = pe.Msg
				back.Error = &we
			}
			if diff := cmp.Diff(line, back); diff != "" {
				t.Errorf("%s reads back otherwise (-line.json +read):\n%s", goldenPath, diff)
			}
		})
	}
}

// sliceStream yields events, then err (io.EOF if nil), and has a receipt.
type sliceStream struct {
	events  []inference.Event
	err     error
	receipt string
}

func (s *sliceStream) Recv() (inference.Event, error) {
	if len(s.events) == 0 {
		if s.err != nil {
			return inference.Event{}, s.err
		}
		return inference.Event{}, io.EOF
	}
	ev := s.events[0]
	s.events = s.events[1:]
	return ev, nil
}

func (s *sliceStream) Close() error    { return nil }
func (s *sliceStream) Receipt() string { return s.receipt }

// streamCase is a stream as a destination's backend produced it.
type streamCase struct {
	name    string
	events  []inference.Event
	err     error
	receipt string
}

var streamCases = []streamCase{
	{name: "pass-through openai-chat", receipt: "rcpt.eu-central-1.v1.abc", events: []inference.Event{
		{Kind: inference.EventStart, Dialect: inference.DialectOpenAIChat, ID: "chatcmpl-9", Model: "demo.chat-small",
			Raw: []byte(`{"id":"chatcmpl-9","choices":[{"delta":{"role":"assistant"}}]}`)},
		{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat, Raw: []byte(`{"choices":[{"delta":{"content":"Bonjour"}}]}`)},
		{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat, Raw: []byte(`{"choices":[{"delta":{"content":" \u00e0 tous\n"}}]}`)},
		{Kind: inference.EventStop, Dialect: inference.DialectOpenAIChat, StopReason: inference.StopReason("end_turn"),
			Raw: []byte(`{"choices":[{"delta":{},"finish_reason":"stop"}]}`)},
		{Kind: inference.EventUsage, Dialect: inference.DialectOpenAIChat, Usage: &inference.Usage{InputTokens: 12, OutputTokens: 3, CacheReadInputTokens: 1 << 40},
			Raw: []byte(`{"usage":{"prompt_tokens":12}}`)},
	}},
	{name: "pass-through converse with names", events: []inference.Event{
		{Kind: inference.EventStart, Dialect: inference.DialectConverse, Name: "messageStart", Raw: []byte(`{"role":"assistant"}`)},
		{Kind: inference.EventDelta, Dialect: inference.DialectConverse, Name: "contentBlockDelta", Raw: []byte(`{"delta":{"text":"a"}}`)},
		{Kind: inference.EventDelta, Dialect: inference.DialectConverse, Name: "contentBlockDelta", Raw: []byte(`{"delta":{"text":"b"}}`)},
		{Kind: inference.EventStop, Dialect: inference.DialectConverse, Name: "messageStop", Raw: []byte(`{"stopReason":"end_turn"}`)},
	}},
	{name: "re-encoded text", events: []inference.Event{
		{Kind: inference.EventStart},
		{Kind: inference.EventDelta, Text: "héllo"},
		{Kind: inference.EventDelta, Text: strings.Repeat("x", 20000)},
		{Kind: inference.EventStop, StopReason: "max_tokens"},
		{Kind: inference.EventUsage, Usage: &inference.Usage{}},
	}},
	{name: "large raw event", events: []inference.Event{
		{Kind: inference.EventDelta, Dialect: inference.DialectAnthropic, Raw: bytes.Repeat([]byte("r"), 100000)},
		{Kind: inference.EventDelta, Dialect: inference.DialectAnthropic, Raw: []byte(`{"small":true}`)},
	}},
	{name: "error mid-stream", events: []inference.Event{{Kind: inference.EventDelta, Text: "a"}},
		err: &inference.Error{Kind: inference.KindThrottled, Message: "slow down", Code: "throttled", RetryAfter: 1500 * time.Millisecond, UpstreamStatus: 429}},
	{name: "empty stream", receipt: "r"},
}

// TestStreamFramesRoundTrip: whatever a destination's backend streams, the
// source reads the same events, end, receipt and error in either format.
func TestStreamFramesRoundTrip(t *testing.T) {
	for _, f := range streamFormats {
		for _, tc := range streamCases {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) {
				got, receipt, err := readAll(pipeStreamReceipt(t, f.framed, &sliceStream{events: tc.events, err: tc.err, receipt: tc.receipt}))
				if diff := cmp.Diff(tc.events, got); diff != "" {
					t.Errorf("events (-sent +read):\n%s", diff)
				}
				if receipt != tc.receipt {
					t.Errorf("receipt = %q, want %q", receipt, tc.receipt)
				}
				wantErr := "<nil>"
				if tc.err != nil {
					wantErr = fmt.Sprint(toWire(inference.AsError(tc.err)).err(dst))
				}
				if fmt.Sprint(err) != wantErr {
					t.Errorf("error = %v, want %v", err, wantErr)
				}
				if tc.err != nil {
					e := inference.AsError(err)
					if want := inference.AsError(tc.err); e.Kind != want.Kind || e.RetryAfter != want.RetryAfter || e.Code != want.Code || e.UpstreamStatus != want.UpstreamStatus {
						t.Errorf("error = %+v, want %+v", e, want)
					}
				}
			})
		}
	}
}

// pipeStreamReceipt is pipeStream that also returns the receipt, through
// a stream that records it.
func pipeStreamReceipt(tb testing.TB, framed bool, src inference.Stream) *receiptStream {
	rs := &receiptStream{}
	st := pipeStream(tb, framed, src).(*remoteStream)
	st.onReceipt = func(r string) { rs.receipt = r }
	rs.Stream = st
	return rs
}

type receiptStream struct {
	inference.Stream
	receipt string
}

// readAll reads st to its end, copying each event's Raw (valid only until
// the next Recv); err is nil at io.EOF.
func readAll(st *receiptStream) ([]inference.Event, string, error) {
	defer st.Close()
	var got []inference.Event
	for {
		ev, err := st.Recv()
		if err == io.EOF {
			return got, st.receipt, nil
		}
		if err != nil {
			return got, st.receipt, err
		}
		ev.Raw = bytes.Clone(ev.Raw)
		got = append(got, ev)
	}
}

// TestStreamFramesMalformed: a broken or hostile peer's frames end the
// stream with the errors NDJSON's faults give: malformed, or cut off.
func TestStreamFramesMalformed(t *testing.T) {
	const malformed, cutOff = "region eu-central-1 sent a malformed stream", "the stream from region eu-central-1 was cut off"
	event := []byte{frameEvent, 4, byte(inference.EventDelta), 1, 0, 'x'}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"nothing", nil, cutOff},
		{"no end frame", event, cutOff},
		{"length cut", []byte{frameEvent, 0x80}, cutOff},
		{"payload cut", []byte{frameEvent, 9, 2, 1, 0}, cutOff},
		{"large payload cut", []byte{frameEvent, 0x80, 0x80, 0x10, 2, 1, 0}, cutOff},
		{"unknown frame type", []byte{9, 0}, malformed},
		{"length beyond the bound", binary.AppendUvarint([]byte{frameEvent}, maxFrameBytes+1), malformed},
		{"length overflows", []byte{frameEvent, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, malformed},
		{"event too short", []byte{frameEvent, 2, 2, 1}, malformed},
		{"unknown event field", []byte{frameEvent, 3, 2, 1, 0x40}, malformed},
		{"field beyond the frame", []byte{frameEvent, 5, 2, 1, flagText, 9, 'a'}, malformed},
		{"usage cut", []byte{frameEvent, 5, 4, 1, flagUsage, 2, 4}, malformed},
		{"error frame not JSON", []byte{frameError, 1, '{'}, malformed},
		{"error frame without kind", []byte{frameError, 2, '{', '}'}, malformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newRemoteStream(dst, io.NopCloser(bytes.NewReader(tc.in)), func() {}, true, nil)
			var err error
			for range 10 {
				if _, err = st.Recv(); err != nil {
					break
				}
			}
			var e *inference.Error
			if !errors.As(err, &e) || e.Kind != inference.KindUpstream || e.Message != tc.want {
				t.Fatalf("Recv(% x) = %v, want %q (upstream)", tc.in, err, tc.want)
			}
			if _, err := st.Recv(); err != io.EOF {
				t.Errorf("Recv() after the failure = %v, want io.EOF", err)
			}
		})
	}
}

// TestNDJSONLineBound: an NDJSON line longer than the bound is refused as
// malformed instead of buffered whole.
func TestNDJSONLineBound(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes+10)
	st := newRemoteStream(dst, io.NopCloser(strings.NewReader(`{"event":{"kind":2,"text":"`+long+`"}}`+"\n")), func() {}, false, nil)
	_, err := st.Recv()
	var e *inference.Error
	if !errors.As(err, &e) || e.Message != "region eu-central-1 sent a malformed stream" {
		t.Fatalf("Recv(line of %d bytes) = %v, want malformed", len(long), err)
	}
	if n := cap(st.long); n > 2*maxLineBytes {
		t.Errorf("buffered %d bytes for the line", n)
	}
}

// FuzzStreamFrames: whatever a peer sends as a framed stream, the source
// never panics, buffers at most the frame bound, ends the stream with an
// inference error, and reads every event it accepts back the same after
// encoding it again.
func FuzzStreamFrames(f *testing.F) {
	for _, tc := range streamCases {
		var b []byte
		for _, ev := range tc.events {
			b = append(b, encodeLine(f, streamLine{Event: &ev})...)
		}
		b = append(b, encodeLine(f, streamLine{End: true, Receipt: tc.receipt})...)
		f.Add(b)
	}
	f.Add(encodeLine(f, streamLine{Error: &wireError{Kind: "throttled", Message: "m", RetryAfterMs: 5}}))
	f.Add([]byte{frameEvent, 0xff, 0xff, 0x03})
	const bound = 64 << 10
	f.Fuzz(func(t *testing.T, in []byte) {
		s := newRemoteStream(dst, io.NopCloser(bytes.NewReader(in)), func() {}, true, nil)
		s.frames.max = bound
		for range len(in) + 1 {
			ev, err := s.Recv()
			if cap(s.frames.buf) > bound {
				t.Fatalf("buffered %d bytes, bound %d", cap(s.frames.buf), bound)
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				var e *inference.Error
				if !errors.As(err, &e) {
					t.Fatalf("Recv() = %v, want an inference error", err)
				}
				if _, err := s.Recv(); err != io.EOF {
					t.Fatalf("Recv() after %v = %v, want io.EOF", e, err)
				}
				return
			}
			again := newRemoteStream(dst, io.NopCloser(bytes.NewReader(encodeLine(t, streamLine{Event: &ev}))), func() {}, true, nil)
			ev2, err := again.Recv()
			if err != nil {
				t.Fatalf("re-encoded event: %v", err)
			}
			if diff := cmp.Diff(ev, ev2, cmp.Comparer(bytes.Equal)); diff != "" {
				t.Fatalf("event reads back otherwise (-first +again):\n%s", diff)
			}
		}
		t.Fatal("more events than bytes")
	})
}

// streamLocal serves every forwarded job with a stream of events.
type streamLocal struct{ events []inference.Event }

func (l streamLocal) ServeForwarded(context.Context, *dispatch.Job) (*dispatch.Outcome, error) {
	return &dispatch.Outcome{Stream: &sliceStream{events: l.events, receipt: "rcpt"}}, nil
}

// TestStreamWithOlderPeers: in a rolling upgrade, a stream crosses between
// a node that knows stream frames and one from before them, each way, as
// NDJSON; between two that know them, in frames.
func TestStreamWithOlderPeers(t *testing.T) {
	events := []inference.Event{
		{Kind: inference.EventStart, Dialect: inference.DialectConverse, Name: "messageStart", Raw: []byte(`{"role":"assistant"}`)},
		{Kind: inference.EventDelta, Dialect: inference.DialectConverse, Name: "contentBlockDelta", Raw: []byte(`{"x":1}`)},
		{Kind: inference.EventUsage, Usage: &inference.Usage{InputTokens: 3, OutputTokens: 1}},
	}
	// olderDestination is what a destination from before stream frames
	// wrote for these events, byte for byte: it ignores Accept.
	const olderDestination = `{"event":{"kind":1,"dialect":2,"name":"messageStart","raw":"eyJyb2xlIjoiYXNzaXN0YW50In0="}}
{"event":{"kind":2,"dialect":2,"name":"contentBlockDelta","raw":"eyJ4IjoxfQ=="}}
{"event":{"kind":4,"usage":{"inputTokens":3,"outputTokens":1}}}
{"end":true,"receipt":"rcpt"}
`
	newer := NewServer(ServerOptions{Local: streamLocal{events}})
	for _, tc := range []struct {
		name string
		// olderSource sends no Accept, as a source from before frames.
		olderSource, olderDestination bool
		wantType                      string
	}{
		{"newer source, newer destination", false, false, ContentTypeStreamFrames},
		{"older source, newer destination", true, false, ContentTypeNDJSON},
		{"newer source, older destination", false, true, ContentTypeNDJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var peer skewPeer
			c := peer.start(t, newer, tc.olderSource, tc.olderDestination, "application/x-ndjson", olderDestination)
			job := forwardJob()
			var receipt string
			job.OnReceipt = func(r string) { receipt = r }
			st, err := c.Executor(dst).Stream(t.Context(), job)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := readAll(&receiptStream{Stream: st})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(events, got); diff != "" {
				t.Errorf("events (-sent +read):\n%s", diff)
			}
			if receipt != "rcpt" {
				t.Errorf("receipt = %q, want rcpt", receipt)
			}
			accept, contentType, body := peer.seen()
			if !acceptsFrames(accept) {
				t.Errorf("the source's Accept %q does not ask for %s", accept, ContentTypeStreamFrames)
			}
			if contentType != tc.wantType {
				t.Errorf("answer's Content-Type = %q, want %q", contentType, tc.wantType)
			}
			if tc.olderSource && string(body) != olderDestination {
				t.Errorf("the newer destination wrote for an older source:\n%s\nwant, as before frames:\n%s", body, olderDestination)
			}
		})
	}
}

// TestAcceptsFrames: the destination answers in frames only when asked.
func TestAcceptsFrames(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"*/*", false},
		{"application/x-ndjson", false},
		{acceptStream, true},
		{ContentTypeStreamFrames, true},
		{ContentTypeStreamFrames + "; q=0", false},
		{ContentTypeStreamFrames + ";q=0.000", false},
		{ContentTypeStreamFrames + "; q=0.1", true},
		{ContentTypeStreamFrames + "; q=x", false},
		{"application/vnd.meridian.stream.v10", false},
		{"application/json, " + ContentTypeStreamFrames, true},
	} {
		if got := acceptsFrames(tc.accept); got != tc.want {
			t.Errorf("acceptsFrames(%q) = %v, want %v", tc.accept, got, tc.want)
		}
	}
}

// TestStreamFramesEventTooLarge: a destination does not write a frame the
// source would refuse; it ends the stream with an error frame that says
// why, after the events before it.
func TestStreamFramesEventTooLarge(t *testing.T) {
	small := inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectAnthropic, Raw: []byte(`{}`)}
	huge := inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectAnthropic, Raw: make([]byte, maxFrameBytes)}
	got, _, err := readAll(pipeStreamReceipt(t, true, &sliceStream{events: []inference.Event{small, huge, small}}))
	if diff := cmp.Diff([]inference.Event{small}, got); diff != "" {
		t.Errorf("events (-want +read):\n%s", diff)
	}
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.KindUpstream || e.Message != "the upstream sent a stream event too large for the link" {
		t.Errorf("error = %v, want the upstream's event too large", err)
	}
}

// refill is a reader of the bytes last put in b.
type refill struct{ b []byte }

func (r *refill) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

// TestStreamFramesAllocs: a pass-through event (Raw, and the event name
// Converse sets on every event) is written and read as a frame without an
// allocation; BenchmarkForwardStreamToken measures the same with the
// destination's relay and a pipe.
func TestStreamFramesAllocs(t *testing.T) {
	for _, ev := range []inference.Event{
		{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat, Raw: []byte(`{"choices":[{"delta":{"content":" token"}}]}`)},
		{Kind: inference.EventDelta, Dialect: inference.DialectConverse, Name: "contentBlockDelta", Raw: []byte(`{"delta":{"text":" token"}}`)},
		// Larger than the read buffer: read into the stream's own
		// buffer, reused from one large frame to the next.
		{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat, Raw: []byte(`{"choices":[{"delta":{"content":"` + strings.Repeat("x", 3000) + `"}}]}`)},
	} {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		fw := frameWriter{w: bw}
		src := &refill{}
		st := newRemoteStream(dst, io.NopCloser(src), func() {}, true, nil)
		var err error
		n := testing.AllocsPerRun(100, func() {
			out.Reset()
			fw.writeEvent(&ev)
			bw.Flush()
			src.b = out.Bytes()
			var got inference.Event
			if got, err = st.Recv(); err == nil && (got.Name != ev.Name || !bytes.Equal(got.Raw, ev.Raw)) {
				err = fmt.Errorf("read %+v", got)
			}
		})
		if err != nil {
			t.Fatalf("Recv() = %v", err)
		}
		if n > 0 {
			t.Errorf("event %.64s: %v allocations per forwarded event, want 0", ev.Raw, n)
		}
	}
}

// TestRemoteStreamReadBuffer pins the read buffer every forwarded stream
// holds at the source, on top of the transport's: 1 KiB, which a stream's
// frames fit (at 4 KiB, a thousand forwarded streams held 3 MiB more).
func TestRemoteStreamReadBuffer(t *testing.T) {
	for _, framed := range []bool{true, false} {
		s := newRemoteStream(dst, nopCloser{strings.NewReader("")}, func() {}, framed, nil)
		if got := s.sc.Size(); got != 1<<10 {
			t.Errorf("framed %v: a forwarded stream's read buffer is %d bytes, want 1024", framed, got)
		}
	}
}
