package quota

import "math"

// windowLog is a sliding-window log: one entry per admission in the window,
// ordered by time.
//
// It holds no pointers for the garbage collector to follow: an entry keeps
// its reservation id as an offset and length into ids, a byte arena of the
// log's own, rather than as a string. A log holds an entry per request of
// the last minute (150,000 at 2,500 requests/s), and with a string each
// entry cost an object of its own and a pointer that every collection
// cycle scanned (docs/performance.md, "Live heap per request").
type windowLog struct {
	entries []logEntry
	sum     int64 // of entries' amounts
	// ids holds the entries' reservation ids back to back, in no
	// particular order; dead counts its bytes no entry refers to any more
	// (entries trimmed or released), reclaimed by compact.
	ids  []byte
	dead int
}

type logEntry struct {
	at     int64  // µs since the Unix epoch
	amount int64  // 1 for requests, tokens for tokens
	off    uint32 // the id is ids[off : off+n]
	n      uint32
}

// compactMin is the arena size below which dead bytes are left in place: a
// small log is not worth copying.
const compactMin = 4096

// id returns the reservation id of entries[j] (a copy).
func (l *windowLog) id(j int) string {
	e := l.entries[j]
	return string(l.ids[e.off : e.off+e.n])
}

// idIs reports whether entries[j] holds id, without a copy.
func (l *windowLog) idIs(j int, id string) bool {
	e := l.entries[j]
	return int(e.n) == len(id) && string(l.ids[e.off:e.off+e.n]) == id
}

// drop accounts for the id bytes of an entry leaving the log.
func (l *windowLog) drop(e logEntry) { l.dead += int(e.n) }

// insert adds an entry of id at at with amount, in time order (after
// entries of the same time), so that a clock stepping back does not break
// the order trim relies on.
func (l *windowLog) insert(at int64, id string, amount int64) {
	if l.dead > compactMin && l.dead > len(l.ids)/2 || len(l.ids)+len(id) > math.MaxUint32 {
		l.compact()
	}
	e := logEntry{at: at, amount: amount, off: uint32(len(l.ids)), n: uint32(len(id))}
	l.ids = append(l.ids, id...)
	i := len(l.entries)
	for i > 0 && l.entries[i-1].at > at {
		i--
	}
	l.entries = append(l.entries, logEntry{})
	copy(l.entries[i+1:], l.entries[i:])
	l.entries[i] = e
	l.sum = addCount(l.sum, amount)
}

// compact copies the live entries' ids into a new arena, dropping the dead
// bytes. It runs once the dead bytes are more than half of the arena, so
// that its cost, proportional to the live ids, is spread over at least as
// many bytes of ids inserted since the last run.
func (l *windowLog) compact() {
	live := len(l.ids) - l.dead
	ids := make([]byte, 0, 2*live+64)
	for j := range l.entries {
		e := &l.entries[j]
		off := len(ids)
		ids = append(ids, l.ids[e.off:e.off+e.n]...)
		e.off = uint32(off)
	}
	l.ids, l.dead = ids, 0
}

// find returns the index of the entry of id, or -1.
func (l *windowLog) find(id string) int {
	for i := len(l.entries) - 1; i >= 0; i-- {
		if l.idIs(i, id) {
			return i
		}
	}
	return -1
}
