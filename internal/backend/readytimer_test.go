package backend

import (
	"bufio"
	"context"
	"io"
	"testing"
	"time"
)

// resetSpy is a stopped timer that counts its Resets.
type resetSpy struct{ resets int }

func (t *resetSpy) Stop() bool               { return false }
func (t *resetSpy) Reset(time.Duration) bool { t.resets++; return false }

// TestBufferedEventNeedsNoTimer: in pass-through, a Recv after Ready saw
// the next event's line whole reads nothing from the network and does not
// arm the idle timer; a Recv that may wait (Ready false, or not asked)
// arms it as before. The events are the same either way.
func TestBufferedEventNeedsNoTimer(t *testing.T) {
	const chunk = "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n"
	tests := []struct {
		name       string
		per        int // bytes per upstream read; 0: all at once
		askReady   bool
		wantResets int
	}{
		// Three chunks and [DONE] in one read: the first Recv reads (and
		// arms), the next three find their line buffered, the last (EOF
		// after [DONE]) reads nothing.
		{name: "burst, Ready asked", askReady: true, wantResets: 1},
		{name: "burst, Ready not asked", askReady: false, wantResets: 4},
		// One line per read: Ready never sees the next line, every read
		// is timed.
		{name: "paced", per: len("data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n"), askReady: true, wantResets: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := &chunkReader{data: chunk + chunk + chunk + "data: [DONE]\n\n", per: tc.per, lines: tc.per > 0}
			spy := &resetSpy{}
			s := &sseStream{streamBody: streamBody{ctx: context.Background(), cancel: func() {}, body: io.NopCloser(src), r: bufio.NewReaderSize(src, sseReadBuffer)}, raw: true, started: true}
			s.timer, s.idle = spy, time.Hour
			var events int
			for {
				if tc.askReady {
					s.Ready()
				}
				ev, err := s.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if string(ev.Raw) != chunk[len("data: "):len(chunk)-2] {
					t.Fatalf("event %q", ev.Raw)
				}
				events++
			}
			if events != 3 {
				t.Errorf("%d events, want 3", events)
			}
			if spy.resets != tc.wantResets {
				t.Errorf("timer armed %d times, want %d", spy.resets, tc.wantResets)
			}
		})
	}
}
