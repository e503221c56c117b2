package inference

// Burst bounds how many of a stream's events a relay gathers into one
// write. A relay flushes before a Recv that may wait (Ready reports false):
// events that arrived together leave together instead of one write each.
// Alone that rule is unbounded: when an upstream releases many events at
// once (a fast model, a proxy or network hiccup upstream), every event of
// the burst is ready, and the first would reach the client only after the
// relay has written (most of) the rest. Burst adds the bound, in the manner
// of a slow start: the first event written after a flush that found the
// stream idle (so the first event of every stream, and the first event of
// every burst) is flushed alone, and each later flush within the same burst
// may gather twice as many events as the one before, up to BurstMaxEvents.
// No event waits behind more than BurstMaxEvents-1 later ones, a paced
// stream (never ready) costs one flush per event as before, and a long
// burst costs one flush per BurstMaxEvents events.
//
// The zero Burst is ready to use; a relay keeps one per stream.
type Burst struct {
	pending int // events written since the last flush
	limit   int // events the current flush may gather; 0 after an idle flush
}

// BurstMaxEvents is the most events a relay gathers into one write.
const BurstMaxEvents = 8

// Wrote records that the relay wrote one event.
func (b *Burst) Wrote() { b.pending++ }

// Hold reports whether the relay may go on to s's next Recv without
// flushing: s's next event is already here (Ready) and the events written
// since the last flush are fewer than the burst allows. When it reports
// false the relay flushes, and Burst counts from zero.
func (b *Burst) Hold(s Stream) bool {
	if !Ready(s) {
		b.pending, b.limit = 0, 0
		return false
	}
	if b.pending == 0 || b.pending < b.limit {
		return true
	}
	b.pending = 0
	b.limit = min(max(2*b.limit, 2), BurstMaxEvents)
	return false
}
