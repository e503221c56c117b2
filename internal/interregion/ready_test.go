package interregion

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestFrameReaderReady: ready tells a frame buffered whole (or a length
// next refuses at once) from one that next would wait for, and skips the
// previous frame's payload still in the buffer.
func TestFrameReaderReady(t *testing.T) {
	t.Parallel()
	frame := func(typ byte, payload string) []byte {
		b := append([]byte{typ}, binary.AppendUvarint(nil, uint64(len(payload)))...)
		return append(b, payload...)
	}
	whole := frame(frameEvent, strings.Repeat("x", 300))
	tests := []struct {
		name     string
		buffered []byte
		// consume reads one frame first (its payload stays pending).
		consume bool
		want    bool
	}{
		{"nothing", nil, false, false},
		{"type byte only", whole[:1], false, false},
		{"length cut", whole[:2], false, false},
		{"payload cut", whole[:len(whole)-1], false, false},
		{"whole", whole, false, true},
		{"empty payload", frame(frameEnd, ""), false, true},
		{"too large", append([]byte{frameEvent}, binary.AppendUvarint(nil, maxFrameBytes+1)...), false, true},
		{"overlong length", append([]byte{frameEvent}, bytes.Repeat([]byte{0xff}, 11)...), false, true},
		{"after a frame, the next whole", append(frame(frameEvent, "ab"), whole...), true, true},
		{"after a frame, the next cut", append(frame(frameEvent, "ab"), whole[:5]...), true, false},
		{"after the last frame", frame(frameEvent, "ab"), true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReaderSize(bytes.NewReader(tc.buffered), 4096)
			r.Peek(1) // fill the buffer with what "arrived"
			fr := &frameReader{r: r, max: maxFrameBytes}
			if tc.consume {
				if _, err := fr.next(); err != nil {
					t.Fatal(err)
				}
			}
			if got := fr.ready(); got != tc.want {
				t.Errorf("ready() = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRemoteStreamReady: an NDJSON stream is ready with a whole line
// buffered, and an ended stream is ready (Recv returns io.EOF at once).
func TestRemoteStreamReady(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, buffered string
		want           bool
	}{{"line", `{"event":{}}` + "\n", true}, {"part of a line", `{"event":`, false}, {"nothing", "", false}} {
		s := newRemoteStream("eu-west-1", nopCloser{strings.NewReader(tc.buffered)}, func() {}, false, nil)
		s.sc.Peek(1)
		if got := s.Ready(); got != tc.want {
			t.Errorf("%s: Ready() = %v, want %v", tc.name, got, tc.want)
		}
	}
	s := newRemoteStream("eu-west-1", nopCloser{strings.NewReader("")}, func() {}, true, nil)
	s.done = true
	if !inference.Ready(s) {
		t.Error("an ended stream is not Ready")
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }
