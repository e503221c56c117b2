package inference

// Burst bounds how many of a stream's events a relay gathers into one
// write. A relay flushes before a Recv that may wait (Ready reports false):
// events that arrived together leave together instead of one write each.
// Alone that rule is unbounded: while an upstream releases events faster
// than the relay writes them (a fast model, a proxy or network hiccup
// upstream that releases many at once), every next event is ready, and the
// first waited for all the others, or for the response's buffers to fill.
// Burst adds the bound: a relay flushes at the latest after BurstMaxEvents
// events, so that no event waits behind more than BurstMaxEvents-1 later
// ones. A paced stream (never ready) costs one flush per event as before,
// a small burst one write, a long one a write per BurstMaxEvents events
// (a few KiB of chat chunks, about what the response's buffers hold before
// they write anyway).
//
// The zero Burst is ready to use; a relay keeps one per stream.
type Burst struct {
	pending int // events written since the last flush
}

// BurstMaxEvents is the most events a relay gathers into one write.
const BurstMaxEvents = 16

// Wrote records that the relay wrote one event.
func (b *Burst) Wrote() { b.pending++ }

// Hold reports whether the relay may go on to s's next Recv without
// flushing: s's next event is already here (Ready) and fewer than
// BurstMaxEvents events were written since the last flush. When it reports
// false the relay flushes, and Burst counts from zero.
func (b *Burst) Hold(s Stream) bool {
	if Ready(s) && b.pending < BurstMaxEvents {
		return true
	}
	b.pending = 0
	return false
}
