package audit

import (
	"errors"
	"fmt"
)

var (
	// ErrBackpressure is returned by [Writer.Append] when the queue is full.
	// The event was not recorded; the gateway answers the request with 429
	// instead of serving it unaudited.
	ErrBackpressure = errors.New("audit queue full")

	// ErrClosed is returned by [Writer.Append] after [Writer.Close] started.
	ErrClosed = errors.New("audit writer closed")

	// ErrUnavailable is matched by the errors of a [Writer] that cannot write
	// its trail (a full disk, an I/O error): see [Writer.Err] and
	// [UnavailableError]. The gateway answers 503 with Retry-After rather
	// than serve requests it cannot record.
	ErrUnavailable = errors.New("audit trail unavailable")
)

// TamperError is the first broken place [Verify] found in a log. File and
// Line locate it (Line is 1-based; 0 when the problem concerns a whole file or
// a digest).
type TamperError struct {
	Kind   Finding
	File   string // file name inside the verified directory
	Line   int64  // 1-based line, or 0
	Detail string // what was expected and what was found
}

func (e *TamperError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if loc == "" {
		return fmt.Sprintf("%s: %s", e.Kind, e.Detail)
	}
	return fmt.Sprintf("%s: %s: %s", loc, e.Kind, e.Detail)
}

// Finding is a kind of problem [Verify] reports. The warnings ([TornTail],
// [NotCovered]) describe a crash or a log still being written; every other
// finding means the log was altered.
type Finding int

const (
	// EditedEvent: a line's bytes no longer match its hash.
	EditedEvent Finding = iota + 1
	// MalformedEvent: a complete line is not a well-formed event line.
	MalformedEvent
	// DeletedEvent: an event's predecessor is missing from the log.
	DeletedEvent
	// ReorderedEvents: an event's predecessor appears elsewhere in the log.
	ReorderedEvents
	// InsertedEvent: an event that was never part of the chain.
	InsertedEvent
	// DeletedFile: a log file named by the sequence numbers or a digest is gone.
	DeletedFile
	// TruncatedFile: a log file is shorter than a digest or the next file says.
	TruncatedFile
	// ForgedDigest: a digest whose signature, key or content does not check out.
	ForgedDigest
	// MissingDigest: a gap in the digest chain.
	MissingDigest
	// TornTail (warning): an incomplete last line left by a crash mid-write.
	TornTail
	// NotCovered (warning): events written after the newest digest.
	NotCovered
	// ForgedGap: a gap marker that restates an earlier marker of the same
	// outage with lower counts, which the writer never writes.
	ForgedGap
)

var findingNames = map[Finding]string{
	EditedEvent:     "edited event",
	MalformedEvent:  "malformed event",
	DeletedEvent:    "deleted event",
	ReorderedEvents: "reordered events",
	InsertedEvent:   "inserted event",
	DeletedFile:     "deleted file",
	TruncatedFile:   "truncated file",
	ForgedDigest:    "forged digest",
	MissingDigest:   "missing digest",
	TornTail:        "torn tail",
	NotCovered:      "not yet covered by a digest",
	ForgedGap:       "forged gap marker",
}

func (f Finding) String() string {
	if s, ok := findingNames[f]; ok {
		return s
	}
	return fmt.Sprintf("Finding(%d)", int(f))
}

// Tampering reports whether f means the log was altered (as opposed to a
// crash or a log still being written).
func (f Finding) Tampering() bool { return f != TornTail && f != NotCovered }
