package audit

import (
	"fmt"
	"slices"
	"time"
)

// Bounds of the recovery probe's backoff during an outage.
const (
	probeMin = 250 * time.Millisecond
	probeMax = 10 * time.Second
	// maxGapIDs bounds the event ids a gap marker lists.
	maxGapIDs = 100
)

// UnavailableError is [Writer.Err] while the trail cannot be written, and
// the error of Append and Begin calls it refused. It matches
// [ErrUnavailable] and unwraps to the first I/O error of the outage.
type UnavailableError struct {
	// Since is when the first write of the outage failed, or, once a
	// recovery probe wrote a gap marker with an fsync and then failed, when
	// that probe ran (the marker records what came before).
	Since time.Time
	// Cause is that failure (ENOSPC, EIO, a failed fsync or file creation).
	Cause error
	// RetryAfter is how long clients should wait before trying again: the
	// writer's current probe interval, at least a second.
	RetryAfter time.Duration
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%v since %s: %v", ErrUnavailable, e.Since.UTC().Format(timeLayout), e.Cause)
}

// Is reports whether target is [ErrUnavailable].
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// Unwrap returns the cause.
func (e *UnavailableError) Unwrap() error { return e.Cause }

// outage is what the writer remembers of a time the trail could not be
// written, for the gap marker it writes when it recovers.
type outage struct {
	since    time.Time
	cause    error
	afterSeq uint64 // the last event confirmed in the log when the outage began
	// lost counts events not recorded (their Append failed); lostIDs holds
	// the first maxGapIDs of their ids.
	lost    int64
	lostIDs []string
	// unconfirmed counts events whose lines stayed in the log although
	// their write failed (it could not be taken back): callers' events,
	// whose Append failed, and kept events written after a marker whose
	// write failed (see writeKept).
	unconfirmed int64
	// unconfirmedStreams holds the first maxGapIDs of the unconfirmed
	// events that are streams' events: a machine crash may take their
	// lines back, and a restart then writes them again as interrupted,
	// counted as deferred instead (see recoverOutage).
	unconfirmedStreams []streamRef
	// saved is lost+unconfirmed as last saved to the outage file (both
	// only grow until restart clears them); held says whether that save
	// wrote a record of the outage (rather than blanking the file).
	saved int64
	held  bool
	// marked: a gap marker in the log, fsynced, records the outage up to
	// since (see restart), and no marker whose write failed stayed in the
	// log after it (see writeKept). A probe writes another only when
	// something happened since that the log does not hold (see
	// Writer.recorded); until then it starts at retry, the step that
	// failed (the steps before it succeeded, and nothing outside the
	// probes writes the journal or the outage file during an outage).
	marked bool
	retry  probeStep
}

// unsaved reports whether the outage file must be written: the log does
// not hold everything the outage would record (see recorded), and the file
// holds no record of the outage, or counts less than the outage does.
func (w *Writer) unsaved() bool {
	o := w.out
	return !w.recorded() && (!o.held || o.lost+o.unconfirmed != o.saved)
}

// fail makes the trail unavailable from now on: every Append and Begin is
// refused until a probe succeeds. The first cause of an outage is kept.
func (w *Writer) fail(err error) { w.failAfter(err, w.seq) }

// failAfter is fail for a failure after event afterSeq, the last line the
// writer confirmed: lines after it that a failed write left in the log are
// unconfirmed, and a machine crash may take them back, so the outage (and
// its marker) must not begin after them (see writeBuffered).
func (w *Writer) failAfter(err error, afterSeq uint64) {
	if w.out != nil {
		w.log.Debug("audit write failed during an outage", "error", err)
		return
	}
	w.out = &outage{since: w.clock.Now(), cause: err, afterSeq: afterSeq}
	w.backoff = probeMin
	// Arm the probe before publishing: whoever sees the outage may move a
	// test clock, and the tick must find the ticker.
	w.armProbe()
	w.publish()
	w.stats.outages.Add(1)
	w.log.Error("audit trail cannot be written; refusing requests until it recovers", "error", err, "after_event", w.seq)
	w.saveOutage() // logged by the probes if it keeps failing
}

// publish makes the outage state visible to Err.
func (w *Writer) publish() {
	if w.out == nil {
		w.unavail.Store(nil)
		return
	}
	w.unavail.Store(&UnavailableError{Since: w.out.since, Cause: w.out.cause, RetryAfter: max(w.backoff, time.Second)})
}

func (w *Writer) armProbe() {
	w.stopProbe()
	w.probeT = w.clock.NewTicker(w.backoff)
}

func (w *Writer) stopProbe() {
	if w.probeT != nil {
		w.probeT.Stop()
		w.probeT = nil
	}
}

// unrecorded fails an event that the outage keeps out of the log. The
// event of a stream with a journaled intent is kept instead and written on
// recovery (or, after a crash, its intent is). The writer's own items are
// left to their caller.
func (w *Writer) unrecorded(it *item) {
	if it.done == nil {
		return
	}
	u := w.unavail.Load()
	if oi := w.journal.open[intentKey{it.id, it.side}]; oi != nil {
		oi.final = it.body
		it.body = nil // the intent owns it now, not the item pool
		it.err = fmt.Errorf("%w (the stream's event is kept and written when the trail recovers)", u)
		return
	}
	w.out.lost++
	w.stats.lost.Add(1)
	if len(w.out.lostIDs) < maxGapIDs {
		w.out.lostIDs = append(w.out.lostIDs, it.id)
	}
	it.err = u
}

// probe tries to end the outage. One attempt removes files a failed write
// left, rewrites the journal, writes the gap marker and the kept stream
// events to a new file with an fsync, journals those streams' ends with an
// fsync, clears the outage file, and signs a digest that covers the
// marker. Only when every step succeeded is the outage over: the writer
// then admits requests again. Until then Err keeps reporting the outage,
// so the node never admits a request it might not record, and never looks
// recovered while the journal still disagrees with the log.
//
// A failure doubles the wait before the next probe, up to probeMax. If the
// marker reached the log with its fsync before the failure, what it counts
// is recorded: the outage goes on, counted afresh from then (see
// outage.restart). The kept events that reached the log are no longer open
// intents, so no probe writes them again; a crash before the next probe
// leaves their begins in the journal, and the restart finds their events
// in the log after them (eventsAfter). The next probes write no marker
// while nothing more needs recording (see recorded): they retry the step
// that failed and the ones after it, and a step that keeps failing costs
// no marker and no file per probe. If the marker's write failed (the
// outage's first marker or a later one), the marker may be in the log but
// not on stable storage: the outage goes on as it was, and the next marker
// restates it (same since and afterSeq, every count, and the kept events
// the failed write left in the log as unconfirmed: see writeKept).
func (w *Writer) probe() {
	w.stopProbe()
	if w.out == nil {
		return
	}
	w.abandon()
	now := w.clock.Now()
	var marker *Event
	from := stepJournal
	if w.recorded() {
		from = w.out.retry
	} else {
		marker = w.gapEvent(now)
	}
	logged := false
	failed := stepDone
	var err error
	for s := stepLeftovers; err == nil && s < stepDone; s++ {
		if s != stepLeftovers && s < from {
			continue // done by an earlier probe of the outage
		}
		switch s {
		case stepLeftovers:
			err = w.removeLeftovers() // nothing to do unless a failed write left an empty file
		case stepJournal:
			err = w.rewriteJournal()
		case stepKept:
			logged, err = w.writeKept(marker)
		case stepSync:
			err = w.syncJournal()
		case stepOutageFile:
			err = w.preallocateOutage()
		case stepDigest:
			err = w.signDigest()
		}
		if err != nil {
			failed = s
		}
	}
	if err != nil {
		marked := marker != nil && logged
		if marked {
			w.out.restart(now, err, w.seq)
		}
		if w.out.marked && failed != stepLeftovers {
			w.out.retry = failed.retry()
		}
		w.backoff = min(2*w.backoff, probeMax)
		w.armProbe()
		w.publish()
		w.log.Warn("audit trail still cannot be written", "error", err, "step", failed, "next_attempt_in", w.backoff, "gap_marker_written", marked)
		if marker == nil {
			// Nothing changed since the probe that wrote the marker and
			// blanked the outage file (if that failed, the file's record
			// is the one the marker counts: see markerAfter).
			return
		}
		if serr := w.saveOutage(); serr != nil {
			w.log.Warn("audit outage not saved: a restart before recovery would not record the gap", "error", serr)
		}
		return
	}
	o := w.out
	w.out = nil
	w.publish()
	w.log.Info("audit trail recovered; a gap marker records the outage", "since", o.since, "lost_events", o.lost,
		"marker_event", w.markerSeq)
}

// probeStep is a step of a probe, in order.
type probeStep int

const (
	stepLeftovers  probeStep = iota // remove empty files failed writes left (every probe)
	stepJournal                     // rewrite the journal
	stepKept                        // write the marker and the kept events, fsynced
	stepSync                        // write the kept streams' ends to the journal, fsynced
	stepOutageFile                  // clear the outage file
	stepDigest                      // sign a digest covering the marker
	stepDone
)

func (s probeStep) String() string {
	switch s {
	case stepJournal:
		return "journal"
	case stepKept:
		return "marker"
	case stepSync:
		return "journal_ends"
	case stepOutageFile:
		return "outage_file"
	case stepDigest:
		return "digest"
	case stepLeftovers:
		return "leftovers"
	}
	return "none"
}

// retry is the step a probe without a marker starts at after s failed: s,
// or for a journal step the journal's rewrite (a failed journal write
// leaves the file in doubt; the rewrite repairs it).
func (s probeStep) retry() probeStep {
	if s == stepKept || s == stepSync {
		return stepJournal
	}
	return s
}

// restart makes o the outage from now on, after event afterSeq, with cause
// the failure that keeps it going: a gap marker in the log, fsynced,
// records what o counted until now, so the next marker must not count it
// again, nor the outage file keep it.
func (o *outage) restart(now time.Time, cause error, afterSeq uint64) {
	*o = outage{since: now, cause: cause, afterSeq: afterSeq, marked: true}
}

// recorded reports whether the log holds everything the outage would
// record: a marker recorded it up to its restart, and since then no event
// was lost or left unconfirmed, no write tore a file, no marker whose
// write failed stayed in the log, and no stream's event waits to be
// written. A probe then writes no marker, and the outage file holds no
// record (a restart would have nothing to write); otherwise the file
// holds one (see unsaved).
func (w *Writer) recorded() bool {
	o := w.out
	if !o.marked || o.lost > 0 || o.unconfirmed > 0 || len(w.torn) > 0 {
		return false
	}
	for _, oi := range w.journal.open {
		if oi.final != nil {
			return false
		}
	}
	return true
}

// removeLeftovers removes empty files that failed writes left behind.
func (w *Writer) removeLeftovers() error {
	for len(w.cleanup) > 0 {
		if err := removeFile(w.fs, w.cleanup[0]); err != nil {
			return fmt.Errorf("remove empty audit log: %w", err)
		}
		w.cleanup = w.cleanup[1:]
	}
	return nil
}

// writeKept writes marker (if not nil), then every kept stream event (in
// the order their streams began), to the log with an fsync, and journals
// their ends (see journalCommit: they may stay pending). It reports whether
// the log write and its fsync succeeded (logged: the marker, if any, is
// on stable storage), and returns the first error of the log write or of a
// journal write it made; the events not written stay kept. The events
// written are no longer open intents, whatever the error, so that none is
// written twice. A logged marker has recorded the torn files it names; the
// files of a marker whose write failed stay for the next one, which
// restates it.
//
// When the write failed, the events whose lines stayed in the log (they
// could not be taken back) were not confirmed: they count as unconfirmed,
// like callers' events (see writeBuffered), since no marker on stable
// storage records them and a machine crash may take them back. A marker
// whose line stayed so is not on stable storage either: the outage is no
// longer marked, so the next probe writes a marker that restates it,
// whatever else happened, and the outage file keeps a record until then.
func (w *Writer) writeKept(marker *Event) (logged bool, err error) {
	var items []*item
	if marker != nil {
		body, err := marshalEvent(marker)
		if err != nil {
			return false, err
		}
		items = append(items, &item{kind: kindEvent, id: marker.EventID, body: body})
	}
	nMarker := len(items)
	for _, k := range w.journal.sorted() {
		if oi := w.journal.open[k]; oi.final != nil {
			items = append(items, &item{kind: kindEvent, id: k.id, side: k.side, body: oi.final})
		}
	}
	if len(items) == 0 {
		return true, nil
	}
	now := w.clock.Now()
	if w.cur == nil {
		if err := w.openFile(now); err != nil {
			w.fail(err)
			return false, err
		}
	}
	for _, it := range items {
		w.buffer(it)
	}
	if marker != nil {
		w.markerSeq = w.seq - uint64(len(items)) + 1
	}
	err = w.writeBuffered(true)
	logged = err == nil
	w.stats.written.Add(int64(countWritten(items)))
	if marker != nil && logged {
		w.torn = slices.Delete(w.torn, 0, min(len(marker.Gap.TornFiles), len(w.torn)))
	}
	if !logged { // writeBuffered declared the outage
		if marker != nil && items[0].written {
			w.out.marked = false
		}
		for _, it := range items[nMarker:] {
			if it.written {
				w.countUnconfirmed(it)
			}
		}
	}
	if jerr := w.journalCommit(items); err == nil {
		err = jerr
	}
	return logged, err
}

// countUnconfirmed counts it, whose line stayed in the log although its
// write failed, as unconfirmed; if it is a stream's event (its intent is
// open), the outage keeps its id and side.
func (w *Writer) countUnconfirmed(it *item) {
	o := w.out
	o.unconfirmed++
	k := intentKey{it.id, it.side}
	if w.journal.open[k] != nil && len(o.unconfirmedStreams) < maxGapIDs {
		o.unconfirmedStreams = append(o.unconfirmedStreams, streamRef{ID: k.id, Side: k.side})
	}
}

func countWritten(items []*item) int {
	n := 0
	for _, it := range items {
		if it.written {
			n++
		}
	}
	return n
}

// GapEventName is the eventName of a gap marker.
const GapEventName = "AuditGap"

// InterruptedErrorCode is the errorCode of the event the writer writes for
// a stream begun with [Writer.Begin] whose own event never came: the
// process died, or the writer was closed, while the stream was running.
const InterruptedErrorCode = "interrupted"

// gapEvent builds the marker of the current outage, as the writer's own
// event in the chain: the next digest signs it like any event.
func (w *Writer) gapEvent(now time.Time) *Event {
	o := w.out
	var kept int64
	for _, oi := range w.journal.open {
		if oi.final != nil {
			kept++
		}
	}
	seq := w.seq + 1
	return &Event{
		EventVersion: EventVersion, EventID: fmt.Sprintf("audit-gap-%d", seq), EventTime: Time{o.since},
		EventName: GapEventName, RecordingRegion: w.region, SourceRegion: w.region,
		Attempts: []Attempt{}, ErrorCode: "audit_unavailable",
		Gap: &Gap{Since: Time{o.since}, Until: Time{now}, AfterSeq: o.afterSeq, LostEvents: o.lost,
			LostEventIDs: slices.Clone(o.lostIDs), DeferredEvents: kept, UnconfirmedEvents: o.unconfirmed,
			TornFiles: slices.Clone(w.torn), Cause: o.cause.Error()},
	}
}

// interruptedBody is the event of a stream whose own event never came: what
// was known at its first byte, with ErrorCode [InterruptedErrorCode].
func interruptedBody(ev *Event, region string) []byte {
	c := *ev
	c.RecordingRegion = region
	if c.ErrorCode == "" {
		c.ErrorCode = InterruptedErrorCode
	}
	c.Gap = nil
	b, _ := marshalEvent(&c)
	return b
}
