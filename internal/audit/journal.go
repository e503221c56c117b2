package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/jsonesc"
)

// journalName is the write-ahead journal of stream intents, beside the log
// files (its name is not a log or digest name, so verify and query skip it).
const journalName = "journal.jsonl"

// journalCompactBytes is the size past which the journal is rewritten with
// only the intents still open (tests may lower or raise it: testHooks).
const journalCompactBytes = 1 << 20

// The journal holds one JSON record per line:
//
//	{"op":"begin","id":"<eventId>","side":"source","event":{...},"seq":<events in the log>}
//	{"op":"end","id":"<eventId>","side":"source"}
//
// A begin is written before a stream's first byte goes out; an end after
// the stream's event is in the log, with the journal's next write (see
// journalCommit), or never. An incomplete last line is a record that was
// never acknowledged (a begin whose stream never started) and is ignored.
type journalRecord struct {
	Op    string `json:"op"`
	ID    string `json:"id"`
	Side  Side   `json:"side"`
	Seq   uint64 `json:"seq,omitempty"`
	Event *Event `json:"event,omitempty"`
}

// intentKey identifies a stream: its request id and the side writing it.
type intentKey struct {
	id   string
	side Side
}

// openIntent is a stream begun and not yet in the log.
type openIntent struct {
	seq uint64 // events in the log when the stream began
	ev  *Event // what was known at the first byte
	rec []byte // its begin record up to the seq (beginPrefix)
	// final is the stream's event (unsealed) when it could not be written
	// yet: its Append came during an outage, or the stream was interrupted.
	final []byte
}

// journal is the writer goroutine's view of the journal file.
type journal struct {
	path   string
	f      File   // open for appending; nil until the first rewrite
	size   int64  // bytes of complete records
	base   int64  // size right after the last rewrite
	broken bool   // a failed write left bytes that could not be taken back
	pend   []byte // records not written yet: ends, then the begins of a commit
	ends   int    // end records in pend
	open   map[intentKey]*openIntent
	// compactAt is journalCompactBytes unless a test set another.
	compactAt int64
}

// sorted returns the open intents in the order their streams began.
func (j *journal) sorted() []intentKey {
	keys := make([]intentKey, 0, len(j.open))
	for k := range j.open {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b intentKey) int {
		if sa, sb := j.open[a].seq, j.open[b].seq; sa != sb {
			if sa < sb {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id+string(a.side), b.id+string(b.side))
	})
	return keys
}

func (j *journal) close() {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

// beginPrefix appends a begin record up to its seq value to b, on the
// caller's goroutine (as Append encodes events), with the hand-written
// event encoder: the writer goroutine only appends the seq.
func beginPrefix(b []byte, ev *Event) []byte {
	b = append(b, `{"op":"begin","id":`...)
	b = jsonesc.AppendString(b, ev.EventID)
	b = append(b, `,"side":`...)
	b = jsonesc.AppendString(b, string(ev.Side))
	b = append(b, `,"event":`...)
	b = appendEvent(b, ev)
	return append(b, `,"seq":`...)
}

// appendBegin appends a complete begin record.
func appendBegin(dst, prefix []byte, seq uint64) []byte {
	dst = append(dst, prefix...)
	dst = strconv.AppendUint(dst, seq, 10)
	return append(dst, '}', '\n')
}

// appendEnd appends an end record.
func appendEnd(dst []byte, k intentKey) []byte {
	dst = append(dst, `{"op":"end","id":`...)
	dst = jsonesc.AppendString(dst, k.id)
	dst = append(dst, `,"side":`...)
	dst = jsonesc.AppendString(dst, string(k.side))
	return append(dst, '}', '\n')
}

// maxPendingEnds bounds the end records waiting for the next journal
// write (see journalCommit).
const maxPendingEnds = 1024

// journalCommit journals what a group commit changed: an end for each
// event now in the log whose stream had an intent, and a begin for each
// intent in items (refused during an outage). A failed journal write makes
// the trail unavailable and fails the begins. It returns the error of the
// journal write or compaction it made, if any: during an outage w.fail
// declares nothing new, so a caller that is ending the outage (the probe,
// through writeKept) must see it.
//
// End records cost no write of their own: they wait in j.pend, in order
// with the begins, and go out with the next write the journal needs (a
// begin, which streams make as often as ends), a digest (so none waits
// longer than the digest interval), the probe that ends an outage, or
// past maxPendingEnds; a rewrite drops them with their begins. A lost end
// is harmless: recovery looks in the log after an open intent's seq before
// writing an interrupted event. Pending ends only bound how far back it
// reads.
func (w *Writer) journalCommit(items []*item) error {
	j := &w.journal
	begins := false
	for _, it := range items {
		k := intentKey{it.id, it.side}
		switch {
		case it.kind == kindEvent && it.written && len(j.open) > 0:
			if _, ok := j.open[k]; ok {
				delete(j.open, k)
				j.pend = appendEnd(j.pend, k)
				j.ends++
			}
		case it.kind == kindBegin && w.out != nil:
			it.err = w.unavail.Load()
		case it.kind == kindBegin:
			oi := it.intent
			oi.seq = w.seq
			j.open[k] = oi
			j.pend = appendBegin(j.pend, oi.rec, w.seq)
			// Copied: the buffer is the item's, which goes back to the
			// pool with its reply, and a rewrite of the journal encodes
			// the begin again from oi.ev.
			oi.rec = nil
			begins = true
		}
	}
	if !begins && j.ends <= maxPendingEnds {
		return nil
	}
	if err := w.writeJournal(begins && w.cfg.Fsync == SyncAlways); err != nil {
		w.fail(err)
		for _, it := range items {
			if it.kind == kindBegin && it.err == nil {
				delete(j.open, intentKey{it.id, it.side})
				it.err = w.unavail.Load()
			}
		}
		return err
	}
	if err := w.compactJournal(); err != nil {
		// The records are written: only the compaction failed. The begins
		// among them stand (their streams may start).
		w.fail(err)
		return err
	}
	return nil
}

// flushJournal writes the pending end records, if any (see journalCommit).
// Its error is the write's, or the outage a compaction that failed after
// the write declared: either way the trail is unavailable, and whatever
// the caller was about to vouch for (a digest) must not go out. During an
// outage it does nothing (the probe writes the ends: syncJournal).
func (w *Writer) flushJournal() error {
	if len(w.journal.pend) == 0 || w.out != nil {
		return nil
	}
	if err := w.writeJournal(false); err != nil {
		return err
	}
	if err := w.compactJournal(); err != nil {
		w.fail(err)
		return w.unavail.Load()
	}
	return nil
}

// syncJournal writes the pending records and fsyncs them. The probe that
// ends an outage calls it after writeKept, so that the journal agrees with
// the log (the kept streams' ends are in it) before the writer admits
// requests again. Unlike flushJournal it runs during the outage, where
// w.fail declares nothing new, so it returns every failure.
//
// It never compacts: the probe rewrote the journal just before (its base
// is the begins of the streams still open), and what it appended since,
// an end for some of those streams, is smaller than their begins, so the
// journal cannot be past twice its base (see compactJournal).
func (w *Writer) syncJournal() error {
	j := &w.journal
	switch {
	case len(j.pend) > 0:
		return w.writeJournal(true)
	case j.f != nil && j.size > j.base:
		// journalCommit wrote the ends itself (more than maxPendingEnds
		// waited), without an fsync.
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("fsync audit journal: %w", err)
		}
	}
	return nil
}

// writeJournal writes the pending records with one write (fsyncing it when
// durable), or rewrites the journal when it has no file to append to or a
// failed write broke it. On error, the pending records are dropped: the
// begins among them fail, and a lost end is harmless.
func (w *Writer) writeJournal(durable bool) error {
	j := &w.journal
	var err error
	if j.f == nil || j.broken {
		err = w.rewriteJournal() // writes the open set, these begins included
	} else {
		err = w.appendJournal(j.pend)
		if err == nil && durable {
			if serr := j.f.Sync(); serr != nil {
				err = fmt.Errorf("fsync audit journal: %w", serr)
			}
		}
	}
	j.pend, j.ends = j.pend[:0], 0
	return err
}

// compactJournal rewrites the journal once it is large and mostly ends
// and begins of finished streams (not when many streams are simply
// running). On error the journal on disk is complete (the old one, or the
// compacted one that the next write rewrites, having no file to append to).
func (w *Writer) compactJournal() error {
	j := &w.journal
	if j.size <= j.compactAt || j.size <= 2*j.base {
		return nil
	}
	return w.rewriteJournal()
}

// appendJournal appends records; a failed write is truncated back.
func (w *Writer) appendJournal(b []byte) error {
	j := &w.journal
	n, err := j.f.Write(b)
	if err == nil {
		j.size += int64(n)
		return nil
	}
	if terr := j.f.Truncate(j.size); terr != nil {
		j.broken = true // rewritten before the next record
	}
	return fmt.Errorf("write audit journal: %w", err)
}

// rewriteJournal replaces the journal with the begins of the open intents
// (an atomic rename), which compacts it and repairs a torn record, and
// reopens it for appending.
func (w *Writer) rewriteJournal() error {
	w.waitSync() // a background fsync may hold the old file
	j := &w.journal
	var buf []byte
	for _, k := range j.sorted() {
		oi := j.open[k]
		if oi.rec == nil {
			oi.rec = beginPrefix(make([]byte, 0, 1024), oi.ev)
		}
		buf = appendBegin(buf, oi.rec, oi.seq)
	}
	if err := writeFileAtomic(w.fs, w.dir, journalName, buf); err != nil {
		return fmt.Errorf("write audit journal: %w", err)
	}
	j.close()
	f, err := w.fs.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("open audit journal: %w", err)
	}
	j.f, j.size, j.base, j.broken = f, int64(len(buf)), int64(len(buf)), false
	j.pend, j.ends = j.pend[:0], 0 // the ends of streams it no longer holds
	return nil
}

// recoverIntents reads the journal a previous writer left and keeps, as
// interrupted events to write first, the streams that began and whose event
// is not in the log: the process died while they were running.
func (w *Writer) recoverIntents() error {
	b, err := os.ReadFile(w.journal.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read audit journal: %w", err)
	}
	open := map[intentKey]*openIntent{}
	lines := bytes.Split(b, []byte{'\n'})
	for i, line := range lines[:len(lines)-1] { // the last piece is empty or a torn record
		var r journalRecord
		if err := json.Unmarshal(line, &r); err != nil || (r.Op == "begin" && r.Event == nil) {
			w.log.Warn("audit journal record unreadable; skipped", "file", journalName, "line", i+1)
			continue
		}
		k := intentKey{r.ID, r.Side}
		switch r.Op {
		case "begin":
			open[k] = &openIntent{seq: r.Seq, ev: r.Event}
		case "end":
			delete(open, k)
		}
	}
	if len(open) == 0 {
		return nil
	}
	inLog, err := w.eventsAfter(open)
	if err != nil {
		return err
	}
	n := 0
	for k, oi := range open {
		if inLog[k] {
			continue
		}
		oi.final = interruptedBody(oi.ev, w.region)
		w.journal.open[k] = oi
		n++
	}
	if n > 0 {
		w.log.Warn("audit: streams interrupted by a crash are recorded as interrupted", "streams", n)
	}
	return nil
}

// eventsAfter reports which of the intents' streams already have their
// event in the log, after the position the intent was journaled at.
func (w *Writer) eventsAfter(open map[intentKey]*openIntent) (map[intentKey]bool, error) {
	from := ^uint64(0)
	for _, oi := range open {
		from = min(from, oi.seq)
	}
	logs, _, err := listDir(w.dir)
	if err != nil {
		return nil, fmt.Errorf("read audit directory: %w", err)
	}
	logs = onlyRegion(logs, w.region)
	found := map[intentKey]bool{}
	for i, lf := range logs {
		if i+1 < len(logs) && logs[i+1].seq <= from+1 {
			continue // every event in it was in the log before the oldest intent
		}
		_, err := scanLog(filepath.Join(w.dir, lf.name), 0, func(n int64, line []byte) error {
			if lf.seq+uint64(n)-1 <= from {
				return nil
			}
			var e struct {
				EventID string `json:"eventId"`
				Side    Side   `json:"side"`
			}
			if json.Unmarshal(line, &e) == nil {
				if _, ok := open[intentKey{e.EventID, e.Side}]; ok {
					found[intentKey{e.EventID, e.Side}] = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read audit log %s: %w", lf.name, err)
		}
	}
	return found, nil
}
