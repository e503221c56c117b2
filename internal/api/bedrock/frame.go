package bedrock

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// This file writes AWS event-stream frames (docs/bedrock.md, "Event
// streams") into a reused buffer: the bytes eventstream.Encoder writes for
// a message with the same string headers in the same order, without its
// allocations (every header value boxed in an interface, a CRC hasher,
// writers chained around it: 22 allocations a frame, BenchmarkFrameEncoding,
// on the relay of every event). Headers are written as given: callers use
// fixed, distinct names (the encoder's Set would keep the last of two with
// the same name).

// What the AWS encoder checks of a frame: a header's name and a string
// value's length.
const (
	maxHeaderName  = 255
	maxHeaderValue = 1<<15 - 1
	// frameOverhead is the prelude (total and headers lengths), its CRC
	// and the message's CRC.
	frameOverhead = 16
	// stringHeader is the event-stream type of a string header value.
	stringHeader = 7
)

var errFrameHeader = errors.New("eventstream: header name or value too long")

// frameHeader is one string header of a frame.
type frameHeader struct{ name, value string }

// appendFrame appends to dst the event-stream message with headers (string
// values, in order) and payload.
func appendFrame(dst []byte, headers []frameHeader, payload []byte) ([]byte, error) {
	hlen := 0
	for _, h := range headers {
		if len(h.name) > maxHeaderName || len(h.value) > maxHeaderValue {
			return dst, errFrameHeader
		}
		hlen += 1 + len(h.name) + 1 + 2 + len(h.value)
	}
	total := frameOverhead + hlen + len(payload)
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, uint32(total))
	dst = binary.BigEndian.AppendUint32(dst, uint32(hlen))
	dst = binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:start+8]))
	for _, h := range headers {
		dst = append(dst, byte(len(h.name)))
		dst = append(dst, h.name...)
		dst = append(dst, stringHeader)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(h.value)))
		dst = append(dst, h.value...)
	}
	dst = append(dst, payload...)
	return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start:])), nil
}
