package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// The outage file keeps what an outage lost across a restart: a node
// stopped (or killed) while its disk is full cannot write a gap marker, and
// without this record the next start would see only a log that ends, as
// after a crash. The file is preallocated at start (outageSize bytes of
// spaces), and during an outage it is overwritten in place: rewriting
// blocks a file already owns needs no free space on the file systems
// Meridian targets (ext4, XFS; not copy-on-write ones such as btrfs or ZFS,
// where the record is best effort).
const (
	outageName = "outage.json"
	outageSize = 16 << 10
)

// outageRecord is the outage file's content while an outage lasts.
type outageRecord struct {
	Since             Time     `json:"since"`
	Cause             string   `json:"cause"`
	AfterSeq          uint64   `json:"afterSeq"`
	LostEvents        int64    `json:"lostEvents"`
	LostEventIDs      []string `json:"lostEventIds"`
	UnconfirmedEvents int64    `json:"unconfirmedEvents"`
	// UnconfirmedStreams names the first of the unconfirmed events that
	// are streams' events (see outage.unconfirmedStreams).
	UnconfirmedStreams []streamRef `json:"unconfirmedStreams,omitempty"`
}

// streamRef names a stream's event: its id and side.
type streamRef struct {
	ID   string `json:"eventId"`
	Side Side   `json:"side"`
}

// preallocateOutage makes sure the outage file exists at its full size and
// records no outage (the probe calls it before it declares the outage
// over: the marker it wrote records the outage now).
func (w *Writer) preallocateOutage() error {
	if fi, err := os.Stat(filepath.Join(w.dir, outageName)); err == nil && fi.Size() == outageSize {
		return w.writeOutage(nil) // clear a record a recovered outage left
	}
	if err := writeFileAtomic(w.fs, w.dir, outageName, blankOutage()); err != nil {
		return fmt.Errorf("write audit outage file: %w", err)
	}
	return nil
}

func blankOutage() []byte {
	b := bytes.Repeat([]byte{' '}, outageSize)
	b[outageSize-1] = '\n'
	return b
}

// saveOutage overwrites the outage file in place with the current outage,
// or blanks it when there is none or the log already records it (see
// Writer.recorded). Once it succeeded, the file holds the outage's counts.
func (w *Writer) saveOutage() error {
	o := w.out
	if o != nil && w.recorded() {
		o = nil
	}
	if err := w.writeOutage(o); err != nil {
		return err
	}
	if w.out != nil {
		w.out.saved, w.out.held = w.out.lost+w.out.unconfirmed, o != nil
	}
	return nil
}

// writeOutage overwrites the outage file in place with o, or blanks it when
// o is nil.
func (w *Writer) writeOutage(o *outage) error {
	b := blankOutage()
	if o != nil {
		r := outageRecord{Since: Time{o.since}, Cause: capCause(o.cause.Error()), AfterSeq: o.afterSeq, LostEvents: o.lost,
			LostEventIDs: o.lostIDs, UnconfirmedEvents: o.unconfirmed, UnconfirmedStreams: o.unconfirmedStreams}
		// The record always fits whole, so it always parses: the ids
		// (a sample, as in a marker) give way first, then the cause.
		for {
			j, err := json.Marshal(&r)
			if err != nil {
				return err
			}
			if len(j) < outageSize {
				copy(b, j)
				break
			}
			switch {
			case len(r.UnconfirmedStreams) > 0 && len(r.UnconfirmedStreams) >= len(r.LostEventIDs):
				r.UnconfirmedStreams = r.UnconfirmedStreams[:len(r.UnconfirmedStreams)/2]
			case len(r.LostEventIDs) > 0:
				r.LostEventIDs = r.LostEventIDs[:len(r.LostEventIDs)/2]
			case r.Cause != "":
				r.Cause = capCauseTo(r.Cause, len(r.Cause)/2)
			default:
				return fmt.Errorf("audit outage record of %d bytes does not fit in %d", len(j), outageSize)
			}
		}
	}
	f, err := w.fs.OpenFile(filepath.Join(w.dir, outageName), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open audit outage file: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write audit outage file: %w", err)
	}
	return nil
}

// maxOutageCause bounds the cause the outage file keeps, so that the counts
// and ids after it always fit in the file.
const maxOutageCause = 1 << 10

// stoppedSuffix is what a restart adds to an outage's cause, once.
const stoppedSuffix = "; the node stopped during the outage, so requests lost after the last count may be missing"

// capCause cuts cause to maxOutageCause bytes, keeping the note that the
// node stopped, if any, whole.
func capCause(cause string) string {
	if base, ok := strings.CutSuffix(cause, stoppedSuffix); ok {
		return capCauseTo(base, maxOutageCause-len(stoppedSuffix)) + stoppedSuffix
	}
	return capCauseTo(cause, maxOutageCause)
}

// capCauseTo cuts cause to at most n bytes, at a character boundary, marking
// the cut with an ellipsis.
func capCauseTo(cause string, n int) string {
	const ellipsis = "…"
	if len(cause) <= n {
		return cause
	}
	n = max(n-len(ellipsis), 0)
	for n > 0 && !utf8.RuneStart(cause[n]) {
		n--
	}
	return cause[:n] + ellipsis
}

// recoverOutage reads the outage file a previous writer left: if it records
// an outage, the writer starts in it, and its first probe writes the gap
// marker.
func (w *Writer) recoverOutage() {
	b, err := os.ReadFile(filepath.Join(w.dir, outageName))
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	b = bytes.TrimSpace(b)
	if err != nil || len(b) == 0 {
		return
	}
	var r outageRecord
	if err := json.Unmarshal(b, &r); err != nil {
		w.log.Warn("audit outage file unreadable; ignored", "file", outageName, "error", err)
		return
	}
	if w.markerAfter(&r) {
		return // the marker was written; the writer stopped before blanking the file
	}
	cause := r.Cause
	if !strings.HasSuffix(cause, stoppedSuffix) {
		cause += stoppedSuffix
	}
	w.out = &outage{since: r.Since.Time, afterSeq: r.AfterSeq, lost: r.LostEvents, lostIDs: r.LostEventIDs, unconfirmed: r.UnconfirmedEvents,
		saved: r.LostEvents + r.UnconfirmedEvents, held: true,
		cause: errors.New(cause)}
	// A stream's event counted unconfirmed whose line a machine crash took
	// back is written again now, as interrupted (recoverIntents kept it),
	// and the marker counts it as deferred: it moves, so that it counts
	// once. One whose line stayed in the log is not written again, and
	// stays unconfirmed.
	for _, s := range r.UnconfirmedStreams {
		if oi := w.journal.open[intentKey{s.ID, s.Side}]; oi != nil && oi.final != nil && w.out.unconfirmed > 0 {
			w.out.unconfirmed--
			continue
		}
		w.out.unconfirmedStreams = append(w.out.unconfirmedStreams, s)
	}
	w.log.Warn("audit trail was unavailable when the node stopped; the gap marker is written now", "since", r.Since.Time, "lost_events", r.LostEvents)
}

// markerAfter reports whether the log holds, after event r.AfterSeq (or
// naming it, see below), a gap marker of the outage that began at r.Since
// that counts at least what r counts. A marker whose write failed and that
// counts less is not enough: the next marker restates the outage. It
// counts less when requests were lost after it, and when the failed write
// left kept stream events after it in the log: the marker counts them as
// deferred, r as unconfirmed (see writeKept). A restarted writer that
// moved streams' unconfirmed events to deferred (see recoverOutage) saves
// the outage file before it writes its marker, so the file never counts
// as unconfirmed what its marker counts as deferred.
func (w *Writer) markerAfter(r *outageRecord) bool {
	afterSeq, since := r.AfterSeq, r.Since.Time
	logs, _, err := listDir(w.dir)
	if err != nil {
		return false
	}
	logs = onlyRegion(logs, w.region)
	// A machine crash may have taken back lines up to afterSeq that were
	// never fsynced (written under fsync: interval), and a restarted
	// writer's marker then sits at or before afterSeq. Lines a digest
	// covers were fsynced: the marker comes after them, and names the
	// outage by its since and afterSeq.
	from := min(afterSeq, w.digested)
	found := false
	for i, lf := range logs {
		if i+1 < len(logs) && logs[i+1].seq <= from+1 {
			continue
		}
		scanLog(filepath.Join(w.dir, lf.name), 0, func(n int64, line []byte) error {
			if lf.seq+uint64(n)-1 <= from || !bytes.Contains(line, gapKey) {
				return nil
			}
			if e, err := ParseLine(line); err == nil && e.Gap != nil && e.Gap.Since.Equal(Time{since}.Truncate(time.Millisecond)) &&
				(lf.seq+uint64(n)-1 > afterSeq || e.Gap.AfterSeq == afterSeq) &&
				e.Gap.LostEvents >= r.LostEvents && e.Gap.UnconfirmedEvents >= r.UnconfirmedEvents {
				found = true
			}
			return nil
		})
	}
	return found
}
