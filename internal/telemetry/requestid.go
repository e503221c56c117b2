package telemetry

import (
	"crypto/rand"
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"time"
)

var ridSeq atomic.Uint64
var ridPrefix = func() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(uint64(binary.BigEndian.Uint32(b[:])), 36)
}()

// NewRequestID returns a unique, sortable-by-time request id such as
// "req-mf3k2a9x-1b2c3d-42". It is cheap enough for the hot path.
func NewRequestID() string {
	n := ridSeq.Add(1)
	b := make([]byte, 0, 40)
	b = append(b, "req-"...)
	b = strconv.AppendInt(b, time.Now().UnixMilli(), 36)
	b = append(b, '-')
	b = append(b, ridPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, n, 36)
	return string(b)
}
