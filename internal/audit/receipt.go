package audit

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"path/filepath"
)

// AppendHashed is [Writer.Append] that also returns the event's hash in the
// chain (its "hash" field), for a residency receipt to name the event (see
// docs/receipts.md). The hash is returned only with a nil error: when
// Append would fail, or ctx ends before the event is written, it is "".
func (w *Writer) AppendHashed(ctx context.Context, e *Event) (string, error) {
	return w.enqueue(ctx, w.eventItem(e))
}

// ErrReceiptEvent reports that a receipt's event is not in the verified
// log: absent, or present with another hash, id or region.
var ErrReceiptEvent = errors.New("receipt's audit event not found in the verified log")

// ReceiptEvent is where [FindReceiptEvent] found a receipt's event.
type ReceiptEvent struct {
	File string // file name inside the verified directory
	Line int64
	Seq  uint64 // the event's sequence in the log
	// Covered is true when a signed digest vouches for the event; false
	// when it is only chained, after the newest digest (see
	// [Report].Warnings).
	Covered bool
	Event   *Event
}

// FindReceiptEvent verifies the log of one recording region in dir (as
// [Verify], with keys) and finds the event whose hash is hash. It returns
// an error wrapping [ErrReceiptEvent] unless the log verifies (a
// [*TamperError] or [*KeyError] is returned as is), the event is in the verified part of
// the chain, and its eventId is eventID and its recording and inference
// region are region (the region a receipt says inference ran in, whose node
// wrote the event). The report is returned whenever Verify produced one.
func FindReceiptEvent(dir, eventID, hash, region string, keys ...ed25519.PublicKey) (*Report, *ReceiptEvent, error) {
	rep, err := Verify(dir, keys...)
	if err != nil {
		return rep, nil, err
	}
	if rep.Region != region {
		return rep, nil, fmt.Errorf("%w: %s holds the log of region %q, the receipt names an event of %q", ErrReceiptEvent, dir, rep.Region, region)
	}
	logs, _, err := listDir(dir)
	if err != nil {
		return rep, nil, fmt.Errorf("read audit directory: %w", err)
	}
	// Walk the chain again, as far as Verify walked it: events appended
	// since are not verified.
	var uncovered *TamperError // where the events no digest vouches for start
	for _, w := range rep.Warnings {
		if w.Kind == NotCovered {
			uncovered = w
		}
	}
	var (
		seq, uncoveredSeq uint64
		found             *ReceiptEvent
		stop              = errors.New("stop")
	)
	for _, lf := range logs {
		seq = lf.seq - 1
		_, err := scanLog(filepath.Join(dir, lf.name), 0, func(n int64, line []byte) error {
			seq++
			if seq > uint64(rep.Events) {
				return stop
			}
			if uncovered != nil && uncovered.File == lf.name && uncovered.Line == n {
				uncoveredSeq = seq
			}
			c, err := parseChainLine(line)
			if err != nil || c.hash != hash {
				return nil
			}
			e, err := ParseLine(line)
			if err != nil {
				return nil
			}
			found = &ReceiptEvent{File: lf.name, Line: n, Seq: seq, Event: e}
			return stop
		})
		if err != nil && !errors.Is(err, stop) {
			return rep, nil, fmt.Errorf("read audit log: %w", err)
		}
		if found != nil || seq > uint64(rep.Events) {
			break
		}
	}
	if found == nil {
		return rep, nil, fmt.Errorf("%w: no event of the %d verified has hash %s", ErrReceiptEvent, rep.Events, hash)
	}
	e := found.Event
	switch {
	case e.EventID != eventID:
		return rep, nil, fmt.Errorf("%w: %s:%d has hash %s but is event %q, the receipt names %q", ErrReceiptEvent, found.File, found.Line, hash, e.EventID, eventID)
	case e.InferenceRegion != region:
		return rep, nil, fmt.Errorf("%w: %s:%d (event %q) says inference ran in %q, the receipt says %q", ErrReceiptEvent, found.File, found.Line, eventID, e.InferenceRegion, region)
	}
	found.Covered = uncoveredSeq == 0 || found.Seq < uncoveredSeq
	return rep, found, nil
}
