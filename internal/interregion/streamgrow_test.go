package interregion

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// piecesReader returns its pieces one per Read (a piece longer than the
// caller's buffer over several).
type piecesReader struct{ pieces [][]byte }

func (r *piecesReader) Read(p []byte) (int, error) {
	for len(r.pieces) > 0 && len(r.pieces[0]) == 0 {
		r.pieces = r.pieces[1:]
	}
	if len(r.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.pieces[0])
	r.pieces[0] = r.pieces[0][n:]
	return n, nil
}

// TestRemoteStreamReaderGrowsInABurst: a forwarded stream's reader moves
// from 1 KiB to 4 KiB once a read fills it (a burst), so that Ready finds
// more of a burst's frames whole and the front end gathers them into fewer
// writes; a paced stream, one frame a read, keeps 1 KiB. The events are
// the same either way, in both stream formats, and what the small reader
// held when it grew is read first.
func TestRemoteStreamReaderGrowsInABurst(t *testing.T) {
	var events []inference.Event
	for i := range 300 {
		raw := fmt.Sprintf(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"%d %s"},"finish_reason":null}]}`, i, strings.Repeat("w", i%40))
		events = append(events, inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat, Raw: []byte(raw)})
	}
	for _, framed := range []bool{true, false} {
		// pieces[i] is the i-th event's frame or line; the last, the end.
		var pieces [][]byte
		for i := range events {
			if framed {
				pieces = append(pieces, encodeLine(t, streamLine{Event: &events[i]}))
				continue
			}
			b, err := json.Marshal(streamLine{Event: &events[i]})
			if err != nil {
				t.Fatal(err)
			}
			pieces = append(pieces, append(b, '\n'))
		}
		if framed {
			pieces = append(pieces, encodeLine(t, streamLine{End: true}))
		} else {
			pieces = append(pieces, []byte(`{"end":true}`+"\n"))
		}
		all := bytes.Join(pieces, nil)
		for _, tc := range []struct {
			name     string
			reads    [][]byte // what each read of the body brings
			wantSize int
		}{
			{"burst", [][]byte{all}, streamBurstBuffer},
			{"burst in small reads", split(all, 300), streamReadBuffer},
			{"paced", pieces, streamReadBuffer},
		} {
			t.Run(fmt.Sprintf("framed=%v/%s", framed, tc.name), func(t *testing.T) {
				var reads [][]byte
				for _, r := range tc.reads {
					reads = append(reads, bytes.Clone(r))
				}
				src := &piecesReader{pieces: reads}
				s := newRemoteStream("eu-west", io.NopCloser(src), func() {}, framed, nil)
				for i := 0; ; i++ {
					s.Ready()
					ev, err := s.Recv()
					if errors.Is(err, io.EOF) {
						if i != len(events) {
							t.Fatalf("%d events, want %d", i, len(events))
						}
						break
					}
					if err != nil {
						t.Fatal(err)
					}
					if i >= len(events) || !bytes.Equal(ev.Raw, events[i].Raw) || ev.Kind != events[i].Kind {
						t.Fatalf("event %d = %v %.80s, want %.80s", i, ev.Kind, ev.Raw, events[min(i, len(events)-1)].Raw)
					}
				}
				if got := s.sc.Size(); got != tc.wantSize {
					t.Errorf("read buffer %d bytes, want %d", got, tc.wantSize)
				}
			})
		}
	}
}

// split cuts b into pieces of n bytes (the last shorter).
func split(b []byte, n int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		k := min(len(b), n)
		out = append(out, b[:k])
		b = b[k:]
	}
	return out
}

// TestRemoteStreamGrowAllocs: a forwarded stream in frames that grows in a
// burst allocates its stream, its 1 KiB reader's buffer and the 4 KiB
// one's, nothing else: the readers are part of the stream, and what the
// small reader held is read from it in place (it was copied, behind an
// io.MultiReader: six allocations more per stream that grew).
func TestRemoteStreamGrowAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	var all []byte
	for i := range 40 {
		raw := fmt.Sprintf(`{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"%d"},"finish_reason":null}]}`, i)
		all = append(all, encodeLine(t, streamLine{Event: &inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat, Raw: []byte(raw)}})...)
	}
	all = append(all, encodeLine(t, streamLine{End: true})...)
	src := &piecesReader{}
	body := io.NopCloser(src)
	var err error
	var size int
	pieces := make([][]byte, 1)
	n := testing.AllocsPerRun(50, func() {
		pieces[0] = all
		src.pieces = pieces
		s := newRemoteStream("eu-west", body, func() {}, true, nil)
		for err == nil {
			_, err = s.Recv()
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
		size = s.sc.Size()
	})
	if err != nil {
		t.Fatal(err)
	}
	if size != streamBurstBuffer {
		t.Fatalf("read buffer %d bytes, want %d: the stream did not grow", size, streamBurstBuffer)
	}
	if n > 3 {
		t.Errorf("a forwarded stream that grew allocated %v times, want at most 3", n)
	}
}
