package backend

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// This file reads AWS event-stream frames without allocating: the frame is
// read into a reused buffer and the three headers Meridian looks at are
// returned as slices of it (the AWS decoder allocates every header, about
// forty allocations a frame).

// maxFrame bounds one event-stream frame (the format allows 16 MiB).
const maxFrame = 16 << 20

// frame is one event-stream message; its slices point into the reader's
// buffer and are valid until the next read.
type frame struct {
	eventType, messageType, exceptionType []byte
	payload                               []byte
}

// frameBuffer is the first size of a stream's frame buffer: a message of
// a stream is a few hundred bytes; a larger one grows the buffer once, for
// the rest of the stream.
const frameBuffer = 1 << 10

// readFrame reads the next frame from r into *buf.
func readFrame(r io.Reader, buf *[]byte) (frame, error) {
	var f frame
	if cap(*buf) < frameBuffer {
		*buf = make([]byte, frameBuffer)
	}
	// The prelude is read into the buffer: a local array would escape
	// through the io.Reader.
	prelude := (*buf)[:12]
	if _, err := io.ReadFull(r, prelude); err != nil {
		return f, err
	}
	total := binary.BigEndian.Uint32(prelude[0:4])
	hlen := binary.BigEndian.Uint32(prelude[4:8])
	if crc32.ChecksumIEEE(prelude[:8]) != binary.BigEndian.Uint32(prelude[8:12]) {
		return f, errors.New("event stream: prelude checksum mismatch")
	}
	if total < 16 || total > maxFrame || hlen > total-16 {
		return f, fmt.Errorf("event stream: frame of %d bytes with %d bytes of headers", total, hlen)
	}
	if cap(*buf) < int(total) {
		nb := make([]byte, total)
		copy(nb, prelude)
		*buf = nb
	}
	b := (*buf)[:total]
	if _, err := io.ReadFull(r, b[12:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return f, err
	}
	if crc32.ChecksumIEEE(b[:total-4]) != binary.BigEndian.Uint32(b[total-4:]) {
		return f, errors.New("event stream: message checksum mismatch")
	}
	h := b[12 : 12+hlen]
	for len(h) > 0 {
		n := int(h[0])
		if len(h) < 1+n+1 {
			return f, errors.New("event stream: truncated header")
		}
		name, typ := h[1:1+n], h[1+n]
		h = h[2+n:]
		var size int
		switch typ {
		case 0, 1: // true, false
		case 2:
			size = 1
		case 3:
			size = 2
		case 4:
			size = 4
		case 5, 8:
			size = 8
		case 9:
			size = 16
		case 6, 7: // bytes, string
			if len(h) < 2 {
				return f, errors.New("event stream: truncated header")
			}
			size = 2 + int(binary.BigEndian.Uint16(h))
		default:
			return f, fmt.Errorf("event stream: header type %d", typ)
		}
		if len(h) < size {
			return f, errors.New("event stream: truncated header")
		}
		if typ == 7 {
			switch string(name) {
			case ":event-type":
				f.eventType = h[2:size]
			case ":message-type":
				f.messageType = h[2:size]
			case ":exception-type":
				f.exceptionType = h[2:size]
			}
		}
		h = h[size:]
	}
	f.payload = b[12+hlen : total-4]
	return f, nil
}

// eventName returns the event type as a string without allocating for the
// names Bedrock sends.
func eventName(b []byte) string {
	switch string(b) {
	case "messageStart":
		return "messageStart"
	case "contentBlockStart":
		return "contentBlockStart"
	case "contentBlockDelta":
		return "contentBlockDelta"
	case "contentBlockStop":
		return "contentBlockStop"
	case "messageStop":
		return "messageStop"
	case "metadata":
		return "metadata"
	case "chunk":
		return "chunk"
	}
	return string(b)
}
