package audit

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report summarizes a verified log.
type Report struct {
	Dir    string
	Region string
	// Events, Files and Digests count what was checked.
	Events  int64
	Files   int
	Digests int
	// First and Last are the earliest and latest eventTime seen (zero when
	// the log is empty).
	First, Last time.Time
	// SignaturesChecked is false when Verify had no public key.
	SignaturesChecked bool
	// UnknownKeys lists, in the order first met, the key ids of digests
	// signed by none of the keys given, with the first digest of each:
	// their signatures were not checked (see [KeyError]).
	UnknownKeys []UnknownKey
	// Unsealed counts the events after the newest digest (all of them when
	// there is none): only the hash chain links them, and no signature
	// vouches for them, so whoever can write the log can rewrite them
	// (after deleting the newest digest) and re-chain them undetected.
	// UnsealedFrom is "FILE:LINE" of the first of them.
	Unsealed     int64
	UnsealedFrom string
	// Warnings lists torn tails and events not yet covered by a digest: a
	// crash or a log still being written, not tampering.
	Warnings []*TamperError
	// Gaps lists the gap markers in the log: times the writer could not
	// write the trail, with what was lost. A log with a gap that lost
	// events is not complete, although nothing was altered.
	Gaps []*GapReport
}

// UnknownKey is a signing key a log's digests name that [Verify] was not
// given.
type UnknownKey struct {
	KeyID string
	// First is the first digest it signed; Digests counts them.
	First   string
	Digests int
}

// KeyError is [Verify]'s error for a log whose digests, as far as it got,
// are sound except that some are signed by keys it was not given (a key
// rotation: pass every key the trail used). It is not evidence of
// tampering, nor of its absence: those signatures were not checked.
type KeyError struct {
	Keys  []UnknownKey
	Given []string // key ids of the keys given
}

func (e *KeyError) Error() string {
	parts := make([]string, len(e.Keys))
	for i, k := range e.Keys {
		n := "1 digest"
		if k.Digests != 1 {
			n = fmt.Sprintf("%d digests", k.Digests)
		}
		parts[i] = fmt.Sprintf("%s from %s (%s)", k.KeyID, k.First, n)
	}
	given := "none"
	if len(e.Given) > 0 {
		given = strings.Join(e.Given, ", ")
	}
	return fmt.Sprintf("signed by a key not given: %s; keys given: %s", strings.Join(parts, ", "), given)
}

// Complete reports whether the log holds an event for every request: no
// gap marker counts a lost or unconfirmed event.
func (r *Report) Complete() bool {
	for _, g := range r.Gaps {
		if g.Lost() {
			return false
		}
	}
	return true
}

// GapReport is one gap marker found by [Verify].
type GapReport struct {
	File string // file name inside the verified directory
	Line int64
	Seq  uint64 // the marker's sequence in the log
	Gap  Gap
	// Restates is the earlier marker of the same outage (same since and
	// afterSeq) that this one restates, or nil: that marker's write failed,
	// so the writer wrote this one with every count again (never fewer
	// lost or unconfirmed events: Verify reports such a marker as
	// [ForgedGap]). Count the outage once, by this marker.
	Restates *GapReport
}

// Lost reports whether requests went unrecorded in the gap.
func (g *GapReport) Lost() bool { return g.Gap.LostEvents > 0 || g.Gap.UnconfirmedEvents > 0 }

func (g *GapReport) String() string {
	d := &g.Gap
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d: gap after event %d: the trail could not be written from %s to %s (%s); ",
		g.File, g.Line, d.AfterSeq, d.Since.UTC().Format(timeLayout), d.Until.UTC().Format(timeLayout), d.Cause)
	if d.LostEvents == 0 {
		b.WriteString("no request went unrecorded")
	} else {
		if d.LostEvents == 1 {
			b.WriteString("1 request has no event (refused or failed during the outage)")
		} else {
			fmt.Fprintf(&b, "%d requests have no event (refused or failed during the outage)", d.LostEvents)
		}
		if len(d.LostEventIDs) > 0 {
			more := ""
			if int64(len(d.LostEventIDs)) < d.LostEvents {
				more = ", ..."
			}
			fmt.Fprintf(&b, ": %s%s", strings.Join(d.LostEventIDs, ", "), more)
		}
	}
	if d.UnconfirmedEvents > 0 {
		fmt.Fprintf(&b, "; %d events are in the log although their write failed (their clients may have been refused)", d.UnconfirmedEvents)
	}
	if d.DeferredEvents > 0 {
		fmt.Fprintf(&b, "; %d events of streams running at the time follow the marker", d.DeferredEvents)
	}
	if g.Restates != nil {
		fmt.Fprintf(&b, "; restates the marker at %s:%d, whose write failed (count the outage once, by this marker)", g.Restates.File, g.Restates.Line)
	}
	return b.String()
}

// lineRef locates one event of the log.
type lineRef struct {
	file string
	line int64
	seq  uint64
}

// verifier holds the state of one Verify run.
type verifier struct {
	dir    string
	keys   []ed25519.PublicKey
	rep    *Report
	logs   []dirFile
	onDisk map[string]bool

	// From the digests.
	cover          map[string]FileCoverage // newest coverage per file name
	coverBy        map[string]string       // file name -> digest that stated it
	checkpoint     map[uint64]Digest       // LastEventSeq -> digest
	lastDigest     *Digest
	lastDigestName string

	// Walk state.
	seq      uint64 // sequence of the last event walked
	prevHash string
	prevPrev string // prevHash of the last event walked
	prevRef  lineRef
}

// Verify checks the log of one recording region in dir: every event's hash
// and its link to the event before it, across files; every digest's
// signature with the key among keys that it names (none checked without a
// key; several keys verify a log whose signing key was rotated), the digest
// chain, and that the digests cover the files as they are. It returns a [Report]; when the log was
// altered, it also returns a [*TamperError] for the first broken place.
// Torn tails and events after the newest digest are warnings in the report,
// unless a digest vouched for more than the file holds. Other errors are I/O
// errors.
func Verify(dir string, keys ...ed25519.PublicKey) (_ *Report, err error) {
	keys = slices.DeleteFunc(slices.Clone(keys), func(k ed25519.PublicKey) bool { return k == nil })
	v := &verifier{
		dir:        dir,
		keys:       keys,
		rep:        &Report{Dir: dir, SignaturesChecked: len(keys) > 0},
		onDisk:     map[string]bool{},
		cover:      map[string]FileCoverage{},
		coverBy:    map[string]string{},
		checkpoint: map[uint64]Digest{},
		prevHash:   GenesisHash,
	}
	logs, digests, err := listDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read audit directory: %w", err)
	}
	v.logs = logs
	for _, f := range append(append([]dirFile(nil), logs...), digests...) {
		if v.rep.Region == "" {
			v.rep.Region = f.region
		} else if f.region != v.rep.Region {
			return v.rep, fmt.Errorf("%s: file of region %s among files of region %s (verify one region's directory at a time)", f.name, f.region, v.rep.Region)
		}
	}
	for _, f := range logs {
		v.onDisk[f.name] = true
	}
	v.rep.Files, v.rep.Digests = len(logs), len(digests)
	if err := v.digests(digests); err != nil {
		return v.rep, err
	}
	for i, lf := range logs {
		if err := v.file(lf, i == len(logs)-1); err != nil {
			return v.rep, err
		}
	}
	if err := v.end(); err != nil {
		return v.rep, err
	}
	if len(v.rep.UnknownKeys) > 0 {
		ke := &KeyError{Keys: v.rep.UnknownKeys}
		for _, k := range v.keys {
			ke.Given = append(ke.Given, KeyID(k))
		}
		defer func() { err = ke }()
	}
	// A torn tail a gap marker names was left by the outage's failed write,
	// not by a crash.
	for _, w := range v.rep.Warnings {
		for _, g := range v.rep.Gaps {
			if w.Kind == TornTail && slices.Contains(g.Gap.TornFiles, w.File) {
				w.Detail += fmt.Sprintf("; left by the failed write of the outage recorded at %s:%d", g.File, g.Line)
			}
		}
	}
	return v.rep, nil
}

// unknownKey notes a digest signed by a key that was not given.
func (v *verifier) unknownKey(id, file string) {
	for i := range v.rep.UnknownKeys {
		if v.rep.UnknownKeys[i].KeyID == id {
			v.rep.UnknownKeys[i].Digests++
			return
		}
	}
	v.rep.UnknownKeys = append(v.rep.UnknownKeys, UnknownKey{KeyID: id, First: file, Digests: 1})
}

// gapKey is how a gap marker's gap object starts in its line.
var gapKey = []byte(`,"gap":{`)

// digests checks the digest chain and collects what the digests vouch for.
func (v *verifier) digests(ds []dirFile) error {
	var prev *Digest
	prevSum, prevName := GenesisHash, ""
	for _, df := range ds {
		b, err := os.ReadFile(filepath.Join(v.dir, df.name))
		if err != nil {
			return fmt.Errorf("read digest: %w", err)
		}
		d, sum, err := parseDigest(b, v.keys)
		forged := func(format string, args ...any) error {
			return &TamperError{Kind: ForgedDigest, File: df.name, Detail: fmt.Sprintf(format, args...)}
		}
		if errors.Is(err, errUnknownKey) {
			// The rest of the digest is still checked against the chain.
			v.unknownKey(d.KeyID, df.name)
			err = nil
		}
		switch {
		case err != nil:
			return forged("%v", err)
		case d.Sequence != df.seq:
			return forged("digest says it is number %d, its name says %d", d.Sequence, df.seq)
		case d.Region != v.rep.Region:
			return forged("digest is for region %q", d.Region)
		}
		want := uint64(1)
		if prev != nil {
			want = prev.Sequence + 1
		}
		if d.Sequence != want {
			after := "the start of the log"
			if prev != nil {
				after = prevName
			}
			missing := fmt.Sprintf("digest %d is missing", want)
			if d.Sequence > want+1 {
				missing = fmt.Sprintf("digests %d..%d are missing", want, d.Sequence-1)
			}
			return &TamperError{Kind: MissingDigest, File: df.name, Detail: fmt.Sprintf("digest number %d follows %s: %s", d.Sequence, after, missing)}
		}
		if d.PreviousDigestHash != prevSum {
			if prev == nil {
				return &TamperError{Kind: MissingDigest, File: df.name, Detail: "the first digest links to an earlier digest that is missing"}
			}
			return &TamperError{Kind: ForgedDigest, File: df.name, Detail: fmt.Sprintf("previousDigestHash %s does not match %s (%s)", d.PreviousDigestHash, prevName, prevSum)}
		}
		wantFirst := uint64(1)
		if prev != nil {
			wantFirst = prev.LastEventSeq + 1
		}
		if d.FirstEventSeq != wantFirst || d.LastEventSeq < d.FirstEventSeq {
			return forged("covers events %d..%d, want a range starting at %d", d.FirstEventSeq, d.LastEventSeq, wantFirst)
		}
		for _, c := range d.Files {
			v.cover[c.Name] = c
			v.coverBy[c.Name] = df.name
		}
		v.checkpoint[d.LastEventSeq] = *d
		prev, prevSum, prevName = d, sum, df.name
	}
	v.lastDigest, v.lastDigestName = prev, prevName
	return nil
}

// digested is the last event sequence covered by a digest.
func (v *verifier) digested() uint64 {
	if v.lastDigest == nil {
		return 0
	}
	return v.lastDigest.LastEventSeq
}

// file walks one log file.
func (v *verifier) file(lf dirFile, newest bool) error {
	if want := v.seq + 1; lf.seq > want {
		return v.gap(lf, want)
	}
	cov, covered := v.cover[lf.name]
	var sumAt int64
	if covered {
		sumAt = cov.Size
	}
	var tamper *TamperError
	res, err := scanLog(filepath.Join(v.dir, lf.name), sumAt, func(n int64, line []byte) error {
		ref := lineRef{file: lf.name, line: n, seq: v.seq + 1}
		if n == 1 && lf.seq != ref.seq {
			// The file starts at an event already walked: something was
			// inserted before it. Classify by the chain.
			tamper = v.classify(ref, line)
			if tamper == nil {
				tamper = &TamperError{Kind: InsertedEvent, File: lf.name, Detail: fmt.Sprintf("file starts at event %d, but the log before it already holds %d events", lf.seq, v.seq)}
			}
			return tamper
		}
		e, err := parseChainLine(line)
		if err != nil {
			kind := MalformedEvent
			if errors.Is(err, errHashMismatch) {
				kind = EditedEvent
			}
			tamper = &TamperError{Kind: kind, File: lf.name, Line: n, Detail: err.Error()}
			return tamper
		}
		if e.prevHash != v.prevHash {
			tamper = v.classify(ref, line)
			return tamper
		}
		if d, ok := v.checkpoint[ref.seq]; ok && e.hash != d.LastEventHash {
			tamper = &TamperError{Kind: EditedEvent, File: lf.name, Line: n, Detail: fmt.Sprintf("event %d has hash %s, digest %d says %s: the chain was rewritten at or before this line", ref.seq, e.hash, d.Sequence, d.LastEventHash)}
			return tamper
		}
		if bytes.Contains(line, gapKey) {
			// Quotes inside JSON strings are escaped: only a gap marker's own
			// key can hold these bytes.
			g, err := ParseLine(line)
			if err == nil && g.Gap != nil {
				gr := &GapReport{File: lf.name, Line: n, Seq: ref.seq, Gap: *g.Gap}
				for _, p := range slices.Backward(v.rep.Gaps) {
					if p.Gap.AfterSeq == gr.Gap.AfterSeq && p.Gap.Since.Equal(gr.Gap.Since.Time) {
						gr.Restates = p
						break
					}
				}
				if p := gr.Restates; p != nil && (gr.Gap.LostEvents < p.Gap.LostEvents || gr.Gap.UnconfirmedEvents < p.Gap.UnconfirmedEvents) {
					// The writer restates with every count again, and an
					// outage's counts only grow: fewer would hide a loss.
					tamper = &TamperError{Kind: ForgedGap, File: lf.name, Line: n, Detail: fmt.Sprintf(
						"gap marker restates the marker at %s:%d (same since and afterSeq) with fewer requests unrecorded: %d lost and %d unconfirmed, where that marker counts %d and %d",
						p.File, p.Line, gr.Gap.LostEvents, gr.Gap.UnconfirmedEvents, p.Gap.LostEvents, p.Gap.UnconfirmedEvents)}
					return tamper
				}
				v.rep.Gaps = append(v.rep.Gaps, gr)
			}
		}
		if ref.seq > v.digested() {
			if v.rep.Unsealed == 0 {
				v.rep.UnsealedFrom = fmt.Sprintf("%s:%d", lf.name, n)
			}
			v.rep.Unsealed++
		}
		if ref.seq == v.digested()+1 {
			detail := "this event and the ones after it were written after the newest digest"
			if v.lastDigest == nil {
				detail = "there is no digest yet: nothing vouches for the events"
			}
			v.rep.Warnings = append(v.rep.Warnings, &TamperError{Kind: NotCovered, File: lf.name, Line: n, Detail: detail})
		}
		v.seq++
		v.prevPrev, v.prevHash, v.prevRef = e.prevHash, e.hash, ref
		v.rep.Events++
		t := e.eventTime
		if t.IsZero() {
			return nil
		}
		if v.rep.First.IsZero() || t.Before(v.rep.First) {
			v.rep.First = t
		}
		if t.After(v.rep.Last) {
			v.rep.Last = t
		}
		return nil
	})
	if tamper != nil {
		return tamper
	}
	if err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	if covered {
		if res.lines < cov.Lines || res.size < cov.Size {
			return &TamperError{Kind: TruncatedFile, File: lf.name, Line: res.lines + 1,
				Detail: fmt.Sprintf("%s says the file holds %d lines (%d bytes), it holds %d complete lines (%d bytes)", v.coverBy[lf.name], cov.Lines, cov.Size, res.lines, res.size)}
		}
		if res.sumAt != cov.SHA256 {
			return &TamperError{Kind: EditedEvent, File: lf.name,
				Detail: fmt.Sprintf("the first %d bytes do not match %s (sha256 %s, want %s): the file was rewritten", cov.Size, v.coverBy[lf.name], res.sumAt, cov.SHA256)}
		}
	} else if res.lines > 0 && lf.seq <= v.digested() {
		return &TamperError{Kind: InsertedEvent, File: lf.name, Line: 1,
			Detail: fmt.Sprintf("file holds events %d.. but no digest lists it although digests cover up to event %d", lf.seq, v.digested())}
	}
	if res.torn > 0 {
		detail := fmt.Sprintf("%d bytes of an incomplete last line (a crash mid-write)", res.torn)
		if !newest {
			detail += "; the writer restarted in the next file"
		}
		v.rep.Warnings = append(v.rep.Warnings, &TamperError{Kind: TornTail, File: lf.name, Line: res.lines + 1, Detail: detail})
	}
	return nil
}

// gap explains events missing before log file lf.
func (v *verifier) gap(lf dirFile, want uint64) error {
	for _, name := range v.coveredNames() {
		c := v.cover[name]
		if !v.onDisk[name] && c.FirstSeq >= want && c.FirstSeq < lf.seq {
			return &TamperError{Kind: DeletedFile, File: name,
				Detail: fmt.Sprintf("%s lists it (events %d..), it is gone; %s starts at event %d, the log before it ends at event %d", v.coverBy[name], c.FirstSeq, lf.name, lf.seq, want-1)}
		}
	}
	return &TamperError{Kind: DeletedEvent, File: lf.name, Line: 1,
		Detail: fmt.Sprintf("events %d..%d are missing before this file (a file was deleted, or the previous file truncated)", want, lf.seq-1)}
}

// end checks what the digests vouch for beyond the last file walked.
func (v *verifier) end() error {
	d := v.lastDigest
	if d == nil || v.seq >= d.LastEventSeq {
		return nil
	}
	for _, name := range v.coveredNames() {
		if !v.onDisk[name] {
			return &TamperError{Kind: DeletedFile, File: name,
				Detail: fmt.Sprintf("%s lists it (events %d..), it is gone", v.coverBy[name], v.cover[name].FirstSeq)}
		}
	}
	last := "the log"
	if v.prevRef.file != "" {
		last = v.prevRef.file
	}
	return &TamperError{Kind: TruncatedFile, File: last,
		Detail: fmt.Sprintf("%s covers events up to %d, the log ends at event %d", v.lastDigestName, d.LastEventSeq, v.seq)}
}

// coveredNames returns the covered file names in sequence order.
func (v *verifier) coveredNames() []string {
	var names []string
	for n := range v.cover {
		names = append(names, n)
	}
	// Names sort by time, then sequence; order by sequence.
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && v.cover[names[j]].FirstSeq < v.cover[names[j-1]].FirstSeq; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}
