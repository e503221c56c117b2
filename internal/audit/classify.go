package audit

import (
	"errors"
	"fmt"
	"path/filepath"
)

// indexed is one line of the log as seen by [verifier.index].
type indexed struct {
	ref      lineRef
	hash     string
	prevHash string
}

// index reads the lines of the file named around and of the files on either
// side of it, in walk order, for classifying a broken link. It runs at most
// once per Verify, after the first break; the window keeps its memory bounded
// by the rotation size rather than by the size of the log.
func (v *verifier) index(around string) ([]indexed, error) {
	var out []indexed
	at := 0
	for i, lf := range v.logs {
		if lf.name == around {
			at = i
		}
	}
	for _, lf := range v.logs[max(at-1, 0):min(at+2, len(v.logs))] {
		_, err := scanLog(filepath.Join(v.dir, lf.name), 0, func(n int64, line []byte) error {
			x := indexed{ref: lineRef{file: lf.name, line: n}}
			if c, err := parseChainLine(line); err == nil || errors.Is(err, errHashMismatch) {
				x.hash, x.prevHash = c.hash, c.prevHash
			}
			out = append(out, x)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// classify explains why the event on line ref does not link to the event
// walked before it (v.prevHash), and says where the first broken place is.
func (v *verifier) classify(ref lineRef, line []byte) *TamperError {
	c, err := parseChainLine(line)
	if errors.Is(err, errHashMismatch) {
		return &TamperError{Kind: EditedEvent, File: ref.file, Line: ref.line, Detail: err.Error()}
	}
	if err != nil {
		return &TamperError{Kind: MalformedEvent, File: ref.file, Line: ref.line, Detail: err.Error()}
	}
	e := &Event{Hash: c.hash, PrevHash: c.prevHash}
	idx, ierr := v.index(ref.file)
	if ierr != nil {
		return &TamperError{Kind: DeletedEvent, File: ref.file, Line: ref.line, Detail: fmt.Sprintf("prevHash %s does not match the previous event (%v)", e.PrevHash, ierr)}
	}
	pos := -1
	for i, x := range idx {
		if x.ref.file == ref.file && x.ref.line == ref.line {
			pos = i
			break
		}
	}
	at := func(r lineRef) string { return fmt.Sprintf("%s:%d", r.file, r.line) }
	prev := "the start of the log"
	if v.prevRef.file != "" {
		prev = at(v.prevRef)
	}
	// A second copy of an event already in the log.
	for i, x := range idx {
		if x.hash == e.Hash && i != pos {
			return &TamperError{Kind: InsertedEvent, File: ref.file, Line: ref.line,
				Detail: fmt.Sprintf("this line is a copy of the event at %s", at(x.ref))}
		}
	}
	// Where is this event's predecessor?
	found := -1
	for i, x := range idx {
		if x.hash != "" && x.hash == e.PrevHash {
			found = i
			break
		}
	}
	if found > pos {
		return &TamperError{Kind: ReorderedEvents, File: ref.file, Line: ref.line,
			Detail: fmt.Sprintf("the event before this one is at %s, later in the log (expected it at %s)", at(idx[found].ref), prev)}
	}
	// The chain continues after skipping this line: it was inserted.
	if pos >= 0 && pos+1 < len(idx) && idx[pos+1].prevHash == v.prevHash {
		return &TamperError{Kind: InsertedEvent, File: ref.file, Line: ref.line,
			Detail: fmt.Sprintf("the next event links to %s, skipping this one", prev)}
	}
	// This event and the one before it claim the same predecessor: the one
	// before was inserted.
	if v.prevRef.file != "" && e.PrevHash == v.prevPrev {
		return &TamperError{Kind: InsertedEvent, File: v.prevRef.file, Line: v.prevRef.line,
			Detail: fmt.Sprintf("this event and %s both follow the same event; this one is not in the chain", at(ref))}
	}
	if found >= 0 {
		return &TamperError{Kind: ReorderedEvents, File: ref.file, Line: ref.line,
			Detail: fmt.Sprintf("the event before this one is at %s, earlier in the log (expected it at %s)", at(idx[found].ref), prev)}
	}
	return &TamperError{Kind: DeletedEvent, File: ref.file, Line: ref.line,
		Detail: fmt.Sprintf("the event before this one (hash %s) is not in this file or the files beside it: deleted after %s", e.PrevHash, prev)}
}
