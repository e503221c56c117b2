package backend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// chunkReader hands out its data in reads of at most per bytes, or of one
// line each when lines is set: a paced upstream, whose events arrive one
// by one.
type chunkReader struct {
	data  string
	per   int
	lines bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, io.EOF
	}
	n := min(len(p), len(r.data))
	if r.per > 0 {
		n = min(n, r.per)
	}
	if r.lines {
		if i := strings.IndexByte(r.data, '\n'); i >= 0 {
			n = min(n, i+1)
		}
	}
	n = copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

// TestStreamReaderGrowsInABurst: a stream whose reads fill its small read
// buffer (a burst of events written at once) moves to the larger one, a
// paced stream keeps the small one, and either way every event arrives
// whole and in order, across the move and across lines longer than the
// buffer.
func TestStreamReaderGrowsInABurst(t *testing.T) {
	event := func(i, size int) string {
		return fmt.Sprintf(`{"id":"up-1","choices":[{"index":0,"delta":{"content":"%d %s"}}]}`, i, strings.Repeat("w", size))
	}
	for _, tc := range []struct {
		name     string
		events   []string
		reader   func(data string) io.Reader
		wantSize int
	}{
		{"burst", nil, func(d string) io.Reader { return &chunkReader{data: d} }, sseBurstBuffer},
		{"burst in small reads", nil, func(d string) io.Reader { return &chunkReader{data: d, per: 700} }, sseReadBuffer},
		{"paced", nil, func(d string) io.Reader { return &chunkReader{data: d, lines: true} }, sseReadBuffer},
		{"paced, one long line", []string{event(0, 10), event(1, 3000), event(2, 10)},
			func(d string) io.Reader { return &chunkReader{data: d, lines: true} }, sseBurstBuffer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := tc.events
			if events == nil {
				for i := range 300 {
					events = append(events, event(i, i%40))
				}
			}
			var data strings.Builder
			for _, e := range events {
				fmt.Fprintf(&data, "data: %s\n\n", e)
			}
			data.WriteString("data: [DONE]\n\n")
			src := tc.reader(data.String())
			s := &sseStream{streamBody: streamBody{ctx: context.Background(), cancel: func() {}, body: io.NopCloser(src), r: bufio.NewReaderSize(src, sseReadBuffer), detach: func() bool { return false }}, raw: true, started: true}
			s.timer = newStoppedTimer()
			s.idle = DefaultStreamIdleTimeout
			for i := 0; ; i++ {
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
				if i >= len(events) || string(ev.Raw) != events[i] {
					t.Fatalf("event %d = %.80s, want %.80s", i, ev.Raw, events[min(i, len(events)-1)])
				}
			}
			if got := s.r.Size(); got != tc.wantSize {
				t.Errorf("read buffer %d bytes, want %d", got, tc.wantSize)
			}
		})
	}
}

// BenchmarkPassThroughBurst measures a burst of streamed events in
// pass-through, read from an upstream that has all of them at once.
func BenchmarkPassThroughBurst(b *testing.B) {
	var data strings.Builder
	for range 256 {
		data.WriteString("data: {\"id\":\"up-1\",\"model\":\"upstream-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" word\"},\"finish_reason\":null}]}\n\n")
	}
	data.WriteString("data: [DONE]\n\n")
	burst := data.String()
	b.ReportAllocs()
	for b.Loop() {
		src := &chunkReader{data: burst}
		s := &sseStream{streamBody: streamBody{ctx: context.Background(), cancel: func() {}, body: io.NopCloser(src), r: bufio.NewReaderSize(src, sseReadBuffer)}, raw: true, started: true}
		s.timer = newStoppedTimer()
		s.idle = DefaultStreamIdleTimeout
		for {
			if _, err := s.Recv(); err != nil {
				break
			}
		}
	}
}

// stopSpy is a stopped timer that calls onStop at each Stop.
type stopSpy struct{ onStop func() }

func (t *stopSpy) Stop() bool               { t.onStop(); return false }
func (t *stopSpy) Reset(time.Duration) bool { return false }

// TestErrorEventEndsAfterTheTimerStops: an upstream's error event ends the
// stream (so that Close drains it) only once the read's idle timer is
// stopped, both decoded and in pass-through: a Close on another goroutine
// in between would start a drain whose bound, that same timer, Recv then
// stops.
func TestErrorEventEndsAfterTheTimerStops(t *testing.T) {
	for _, raw := range []bool{false, true} {
		data := "data: {\"id\":\"c\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"overloaded\"}}\n\n"
		src := &chunkReader{data: data}
		s := &sseStream{streamBody: streamBody{ctx: context.Background(), cancel: func() {}, body: io.NopCloser(src), r: bufio.NewReaderSize(src, sseReadBuffer), idle: time.Hour}, raw: raw}
		var endedAtStop []bool
		s.timer = &stopSpy{onStop: func() { endedAtStop = append(endedAtStop, s.ended.Load()) }}
		var err error
		for err == nil {
			_, err = s.Recv()
		}
		if !strings.Contains(err.Error(), "overloaded") {
			t.Fatalf("raw=%v: error %v, want the upstream's", raw, err)
		}
		if slices.Contains(endedAtStop, true) {
			t.Errorf("raw=%v: the stream had ended when its timer stopped (%v)", raw, endedAtStop)
		}
		if !s.ended.Load() {
			t.Errorf("raw=%v: the error event did not end the stream", raw)
		}
	}
}

// TestStreamReaderGrowAllocs: growing a stream's reader in a burst costs
// the larger reader's buffer and nothing else: the reader is a value in
// the stream, and what the small reader held is read from it in place (a
// copy of it behind an io.MultiReader, and a bufio.Reader of its own, cost
// five allocations more per stream that grew).
func TestStreamReaderGrowAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	var data strings.Builder
	for i := range 40 {
		fmt.Fprintf(&data, "data: {\"id\":\"up-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"%d\"}}]}\n\n", i)
	}
	data.WriteString("data: [DONE]\n\n")
	src := &chunkReader{}
	body := io.NopCloser(src)
	timer := newStoppedTimer()
	var err error
	var size int
	allocs := func(grow bool) float64 {
		return testing.AllocsPerRun(50, func() {
			src.data = data.String()
			if !grow {
				src.per = 700 // no read fills the small reader
			} else {
				src.per = 0
			}
			s := &sseStream{streamBody: streamBody{ctx: context.Background(), cancel: func() {}, body: body, detach: func() bool { return false }}, raw: true, started: true}
			s.r = s.readers.Start(src, sseReadBuffer)
			s.timer = timer
			s.idle = DefaultStreamIdleTimeout
			for err == nil {
				_, err = s.Recv()
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			size = s.r.Size()
		})
	}
	paced := allocs(false)
	if err != nil || size != sseReadBuffer {
		t.Fatalf("paced: %v, read buffer %d bytes", err, size)
	}
	burst := allocs(true)
	if err != nil || size != sseBurstBuffer {
		t.Fatalf("burst: %v, read buffer %d bytes", err, size)
	}
	if burst-paced > 1 {
		t.Errorf("a stream that grew allocated %v times, one that did not %v: want one more (the larger buffer)", burst, paced)
	}
}
