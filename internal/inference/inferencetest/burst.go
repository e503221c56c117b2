package inferencetest

import (
	"io"
	"sync"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// BurstStream is a burst: N copies of Event that an upstream released at
// once, so that the stream is always Ready. The first event is returned at
// once; the Recv of each later one blocks until Release (or Close): a relay
// that holds the first event back until it has relayed later ones of the
// burst never sends it, and the test that reads the first event before it
// calls Release hangs until its guard, where a relay that bounds its
// coalescing (inference.Burst) sends the first event alone and passes.
type BurstStream struct {
	Event inference.Event
	N     int

	once    sync.Once
	release chan struct{}
	sent    int
}

// NewBurstStream returns a burst of n copies of ev.
func NewBurstStream(ev inference.Event, n int) *BurstStream {
	return &BurstStream{Event: ev, N: n, release: make(chan struct{})}
}

// Release lets the events after the first go.
func (s *BurstStream) Release() { s.once.Do(func() { close(s.release) }) }

// Recv implements inference.Stream.
func (s *BurstStream) Recv() (inference.Event, error) {
	if s.sent == s.N {
		return inference.Event{}, io.EOF
	}
	if s.sent > 0 {
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
