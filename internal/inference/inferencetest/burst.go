package inferencetest

import (
	"io"
	"sync"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// BurstStream is a burst: N copies of Event that an upstream released at
// once, so that the stream is always Ready. The first Free events are
// returned at once; the Recv of each later one blocks until Release (or
// Close): a relay that gathers more than Free events before it writes
// never sends the first, and the test that reads the first event before
// it calls Release hangs until its guard, where a relay that bounds its
// coalescing at Free events (inference.Burst) passes.
type BurstStream struct {
	Event inference.Event
	N     int
	Free  int

	once    sync.Once
	release chan struct{}
	sent    int
}

// NewBurstStream returns a burst of n copies of ev, the first free of
// them free.
func NewBurstStream(ev inference.Event, n, free int) *BurstStream {
	return &BurstStream{Event: ev, N: n, Free: free, release: make(chan struct{})}
}

// Release lets the events after the first go.
func (s *BurstStream) Release() { s.once.Do(func() { close(s.release) }) }

// Recv implements inference.Stream.
func (s *BurstStream) Recv() (inference.Event, error) {
	if s.sent == s.N {
		return inference.Event{}, io.EOF
	}
	if s.sent >= s.Free {
		<-s.release
	}
	s.sent++
	return s.Event, nil
}

// Ready implements inference.Readier: every event of a burst is here.
func (s *BurstStream) Ready() bool { return true }

// Close implements inference.Stream; it releases a blocked Recv.
func (s *BurstStream) Close() error {
	s.Release()
	return nil
}
