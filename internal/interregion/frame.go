package interregion

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"slices"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// ContentTypeStreamFrames is the media type of a forwarded stream in stream
// frames: the upstream's events, each framed by a few bytes, with Raw
// carried byte for byte (no JSON, no base64). A source advertises it in
// Accept, after which a destination that knows it answers in it; any other
// answer is NDJSON (ContentTypeNDJSON), which every node reads and writes.
// The format is described in doc.go.
const ContentTypeStreamFrames = "application/vnd.meridian.stream.v1"

// ContentTypeNDJSON is the media type of a forwarded stream as nodes from
// before stream frames write it: one streamLine per line.
const ContentTypeNDJSON = "application/x-ndjson"

// acceptStream is the Accept header of a forwarded stream: stream frames
// preferred, NDJSON as before, and JSON for an error before the first byte.
const acceptStream = ContentTypeStreamFrames + ", " + ContentTypeNDJSON + "; q=0.5, application/json; q=0.5"

// maxFrameBytes bounds one frame's payload: the most the source buffers for
// one event of a framed stream. It is above the largest event a backend
// reads from an upstream (a 16 MiB event-stream message; SSE lines stop at
// 4 MiB) with room for the event's other fields.
const maxFrameBytes = 17 << 20

// maxLineBytes bounds one NDJSON line, which carries Raw in base64 (4 bytes
// for every 3): the same events as maxFrameBytes.
const maxLineBytes = 24 << 20

// Frame types.
const (
	frameEvent byte = 1
	frameEnd   byte = 2
	frameError byte = 3
)

// Flags of an event frame: which of the rarely set fields follow.
const (
	flagText byte = 1 << iota
	flagStopReason
	flagUsage
	flagID
	flagModel
	flagName
	flagsKnown = flagText | flagStopReason | flagUsage | flagID | flagModel | flagName
)

// acceptsFrames reports whether an Accept header names
// ContentTypeStreamFrames (with a q other than 0).
func acceptsFrames(accept string) bool { return accepts(accept, ContentTypeStreamFrames) }

// accepts reports whether an Accept header names the media type mediaType
// (with a q other than 0).
func accepts(accept, mediaType string) bool {
	if !strings.Contains(accept, mediaType) {
		return false
	}
	for part := range strings.SplitSeq(accept, ",") {
		if strings.TrimSpace(part) == mediaType {
			return true // what nodes send: no parameters to parse
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil || mt != mediaType {
			continue
		}
		q, ok := params["q"]
		if !ok {
			return true
		}
		v, err := strconv.ParseFloat(q, 64)
		return err == nil && v > 0
	}
	return false
}

// isFramed reports whether a Content-Type is ContentTypeStreamFrames.
func isFramed(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), ContentTypeStreamFrames)
}

// frameWriter writes stream frames. It reuses one buffer for a frame's
// header and fields, so an event costs no allocation, and a stream one.
type frameWriter struct {
	w io.Writer
	// buf holds the frame being written: frameHeadroom bytes left for its
	// type and length, then its fields (write puts the header right
	// before them, so that both go in one Write).
	buf []byte
}

// frameHeadroom is the room left before a frame's fields for its type and
// length (a uvarint of at most maxFrameBytes).
const frameHeadroom = 1 + binary.MaxVarintLen32

// frameBuffer is the capacity a frame writer's buffer starts with: an
// event frame's fields (kind, dialect, flags and the few rarely set ones)
// fit it, so a stream's buffer is allocated once.
const frameBuffer = 128

// errFrameTooLarge is returned for an event whose frame would exceed
// maxFrameBytes: a reader would refuse it.
var errFrameTooLarge = errors.New("stream frame too large")

// fields returns the buffer, empty but for the header's headroom.
func (fw *frameWriter) fields() []byte {
	if fw.buf == nil {
		fw.buf = make([]byte, 0, frameBuffer)
	}
	return fw.buf[:frameHeadroom]
}

// writeEvent writes ev as an event frame.
func (fw *frameWriter) writeEvent(ev *inference.Event) error {
	b := append(fw.fields(), byte(ev.Kind), byte(ev.Dialect), 0)
	var flags byte
	if ev.Text != "" {
		flags |= flagText
		b = appendString(b, ev.Text)
	}
	if ev.StopReason != "" {
		flags |= flagStopReason
		b = appendString(b, string(ev.StopReason))
	}
	if ev.Usage != nil {
		flags |= flagUsage
		u := ev.Usage
		b = binary.AppendVarint(b, int64(u.InputTokens))
		b = binary.AppendVarint(b, int64(u.OutputTokens))
		b = binary.AppendVarint(b, int64(u.CacheReadInputTokens))
		b = binary.AppendVarint(b, int64(u.CacheWriteInputTokens))
	}
	if ev.ID != "" {
		flags |= flagID
		b = appendString(b, ev.ID)
	}
	if ev.Model != "" {
		flags |= flagModel
		b = appendString(b, ev.Model)
	}
	if ev.Name != "" {
		flags |= flagName
		b = appendString(b, ev.Name)
	}
	b[frameHeadroom+2] = flags
	if len(b)-frameHeadroom+len(ev.Raw) > maxFrameBytes {
		fw.buf = b
		return errFrameTooLarge
	}
	return fw.write(frameEvent, b, ev.Raw)
}

// writeEnd writes the end frame, with the destination's receipt if any.
func (fw *frameWriter) writeEnd(receipt string) error {
	return fw.write(frameEnd, append(fw.fields(), receipt...), nil)
}

// writeError writes an error frame: the wire error's JSON.
func (fw *frameWriter) writeError(we wireError) error {
	b, err := json.Marshal(we)
	if err != nil {
		return err
	}
	return fw.write(frameError, append(fw.fields(), b...), nil)
}

// write writes a frame of type typ whose fields are b[frameHeadroom:]
// (b is fw's buffer, as fields returned it and appended to), followed by
// raw. The header goes into the headroom right before the fields, and
// header and fields into the writer in one Write (the response writer's
// buffer), raw in a second.
func (fw *frameWriter) write(typ byte, b, raw []byte) error {
	fw.buf = b
	var hdr [frameHeadroom]byte
	hdr[0] = typ
	k := 1 + binary.PutUvarint(hdr[1:], uint64(len(b)-frameHeadroom+len(raw)))
	start := frameHeadroom - k
	copy(b[start:], hdr[:k])
	if _, err := fw.w.Write(b[start:]); err != nil || len(raw) == 0 {
		return err
	}
	_, err := fw.w.Write(raw)
	return err
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// frameReader reads stream frames. The Raw of the event it returns points
// into its buffer (or the bufio.Reader's) and is valid until the next read,
// as [inference.Event] documents; no frame makes it buffer more than max
// bytes.
type frameReader struct {
	r   *bufio.Reader
	max int
	// pending is the length of the previous frame's payload, still in r's
	// buffer (the previous event's Raw), discarded at the next read.
	pending int
	buf     []byte
	// name is the last Name read: Converse names every event, from a
	// handful of names, so the string is reused rather than allocated.
	name string
}

// frame is one frame read: its type and payload.
type frame struct {
	typ     byte
	payload []byte
}

// errMalformedFrame is the cause of a frame that does not parse.
var errMalformedFrame = errors.New("malformed stream frame")

// next reads the next frame. io.EOF (or io.ErrUnexpectedEOF) means the
// stream ended before a frame did; errMalformedFrame wraps the rest.
func (fr *frameReader) next() (frame, error) {
	if fr.pending > 0 {
		fr.r.Discard(fr.pending)
		fr.pending = 0
	}
	typ, err := fr.r.ReadByte()
	if err != nil {
		return frame{}, err
	}
	n64, err := binary.ReadUvarint(fr.r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("%w: frame length: %v", errMalformedFrame, err)
		}
		return frame{}, err
	}
	if n64 > uint64(fr.max) {
		return frame{}, fmt.Errorf("%w: frame of %d bytes exceeds %d", errMalformedFrame, n64, fr.max)
	}
	n := int(n64)
	if n <= fr.r.Size() {
		// The usual case: the payload fits the reader's buffer, and is
		// read there without a copy.
		p, err := fr.r.Peek(n)
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return frame{}, err
		}
		fr.pending = n
		return frame{typ, p}, nil
	}
	// A large payload is read into buf as it arrives, so that a peer that
	// announces a large frame and sends little of it makes this end
	// buffer only what it sent.
	fr.buf = fr.buf[:0]
	for len(fr.buf) < n {
		chunk := min(n-len(fr.buf), 64<<10)
		fr.buf = slices.Grow(fr.buf, chunk)
		got, err := io.ReadFull(fr.r, fr.buf[len(fr.buf):len(fr.buf)+chunk])
		fr.buf = fr.buf[:len(fr.buf)+got]
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return frame{}, err
		}
	}
	return frame{typ, fr.buf}, nil
}

// ready reports whether the next frame is buffered whole (or is malformed
// in a way next reports at once), so that next returns without a read.
func (fr *frameReader) ready() bool {
	buf, _ := fr.r.Peek(fr.r.Buffered())
	buf = buf[min(fr.pending, len(buf)):]
	if len(buf) == 0 {
		return false
	}
	n, k := binary.Uvarint(buf[1:])
	switch {
	case k < 0:
		return true // an overlong length: malformed
	case k == 0:
		return false // the length is not all here yet
	}
	return n > uint64(fr.max) || uint64(len(buf)-1-k) >= n
}

// event decodes an event frame's payload.
func (fr *frameReader) event(p []byte) (inference.Event, error) {
	if len(p) < 3 {
		return inference.Event{}, fmt.Errorf("%w: event frame of %d bytes", errMalformedFrame, len(p))
	}
	ev := inference.Event{Kind: inference.EventKind(p[0]), Dialect: inference.Dialect(p[1])}
	flags := p[2]
	if flags&^flagsKnown != 0 {
		return inference.Event{}, fmt.Errorf("%w: unknown event fields %#x", errMalformedFrame, flags&^flagsKnown)
	}
	d := fieldReader{b: p[3:]}
	if flags&flagText != 0 {
		ev.Text = string(d.bytes())
	}
	if flags&flagStopReason != 0 {
		ev.StopReason = stopReasonOf(d.bytes())
	}
	if flags&flagUsage != 0 {
		ev.Usage = &inference.Usage{InputTokens: d.int(), OutputTokens: d.int(), CacheReadInputTokens: d.int(), CacheWriteInputTokens: d.int()}
	}
	if flags&flagID != 0 {
		ev.ID = string(d.bytes())
	}
	if flags&flagModel != 0 {
		ev.Model = string(d.bytes())
	}
	if flags&flagName != 0 {
		name := d.bytes()
		if string(name) != fr.name {
			fr.name = string(name)
		}
		ev.Name = fr.name
	}
	if d.err != nil {
		return inference.Event{}, d.err
	}
	if len(d.b) > 0 {
		ev.Raw = d.b
	}
	return ev, nil
}

// fieldReader reads the fields of an event frame; the first error sticks.
type fieldReader struct {
	b   []byte
	err error
}

func (d *fieldReader) bytes() []byte {
	if d.err != nil {
		return nil
	}
	n, k := binary.Uvarint(d.b)
	if k <= 0 || n > uint64(len(d.b)-k) {
		d.err = fmt.Errorf("%w: field length", errMalformedFrame)
		return nil
	}
	v := d.b[k : k+int(n)]
	d.b = d.b[k+int(n):]
	return v
}

func (d *fieldReader) int() int {
	if d.err != nil {
		return 0
	}
	v, k := binary.Varint(d.b)
	if k <= 0 || v != int64(int(v)) {
		d.err = fmt.Errorf("%w: usage count", errMalformedFrame)
		return 0
	}
	d.b = d.b[k:]
	return int(v)
}

// readLine reads one NDJSON line of at most max bytes (without copying
// when it fits r's buffer); a longer line is malformed.
func readLine(r *bufio.Reader, max int, long *[]byte) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	*long = append((*long)[:0], line...)
	for errors.Is(err, bufio.ErrBufferFull) {
		if len(*long) > max {
			return nil, fmt.Errorf("%w: line exceeds %d bytes", errMalformedFrame, max)
		}
		line, err = r.ReadSlice('\n')
		*long = append(*long, line...)
	}
	if len(*long) > max+1 {
		return nil, fmt.Errorf("%w: line exceeds %d bytes", errMalformedFrame, max)
	}
	return *long, err
}

// stopReasonOf returns b as a StopReason: one of the known reasons without
// an allocation (a stream's last event carries one), any other a copy.
// The known ones are Meridian's own and every stop reason the schemas
// define, which a stream passed through carries as its upstream wrote it:
// Converse's (internal/schema/converse/response.go), Anthropic's
// (internal/schema/anthropic/response.go) and OpenAI's finish reasons
// (internal/schema/openai/chat_response.go); TestStopReasonOfKnown holds
// the list to them.
func stopReasonOf(b []byte) inference.StopReason {
	switch string(b) {
	case string(inference.StopEndTurn):
		return inference.StopEndTurn
	case string(inference.StopMaxTokens):
		return inference.StopMaxTokens
	case string(inference.StopSequence):
		return inference.StopSequence
	case string(inference.StopContentFiltered):
		return inference.StopContentFiltered
	case "tool_use":
		return "tool_use"
	case "guardrail_intervened":
		return "guardrail_intervened"
	case "malformed_model_output":
		return "malformed_model_output"
	case "malformed_tool_use":
		return "malformed_tool_use"
	case "model_context_window_exceeded":
		return "model_context_window_exceeded"
	case "pause_turn":
		return "pause_turn"
	case "refusal":
		return "refusal"
	case "stop":
		return "stop"
	case "length":
		return "length"
	case "tool_calls":
		return "tool_calls"
	case "content_filter":
		return "content_filter"
	case "function_call":
		return "function_call"
	}
	return inference.StopReason(b)
}
