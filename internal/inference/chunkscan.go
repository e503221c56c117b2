package inference

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// This file reads a passed-through stream event once where a relay used
// to scan it once per question: a chat chunk's id, model, usage, finish
// reason and text are found in one walk, with the same answers as the
// one-question functions (Field, FieldUnlessNull, StringAfter, and
// AppendSetString's edits).

// FieldSpans returns the spans of the values of the top-level keys k1 and
// k2 of the JSON object b, found in one walk: b[s1:e1] is what Field(b,
// k1) returns and b[s2:e2] what Field(b, k2) returns. ok is false unless
// both keys are there and every member before the later one is well
// formed (k1 and k2 must differ).
//
// A relay that sets both (AppendSetString twice) can then write the
// object's bytes around the two values instead of copying it twice: when
// ok, setting k1 then k2 replaces exactly these spans and keeps every
// other byte.
//
// The answer depends on no byte of b past max(e1, e2), the later value's
// end, which the walk reads when the value is a literal (the delimiter
// that ends it): an object that starts with the same max(e1, e2)+1 bytes
// has the same spans, and a relay may keep them for the next object that
// does.
func FieldSpans(b []byte, k1, k2 string) (s1, e1, s2, e2 int, ok bool) {
	i, ok := objectStart(b)
	found1, found2 := false, false
	for ok {
		var k []byte
		var vs, ve int
		if k, vs, ve, i, ok = nextMember(b, i); !ok {
			break
		}
		switch {
		case !found1 && string(k) == k1:
			s1, e1, found1 = vs, ve, true
		case !found2 && string(k) == k2:
			s2, e2, found2 = vs, ve, true
		}
		if found1 && found2 {
			return s1, e1, s2, e2, true
		}
	}
	return 0, 0, 0, 0, false
}

// AppendJSONString appends s as a JSON string, as AppendSetString writes
// the value it sets: a relay that sets the same value in every event
// encodes it once.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }

// ChatChunk is what a relay reads of a passed-through OpenAI
// chat.completion.chunk (ScanChatChunk).
type ChatChunk struct {
	// Error reports whether the chunk's bytes contain `"error"`
	// (bytes.Contains): only then can it be an error event.
	Error bool
	// Usage is FieldUnlessNull(b, "usage").
	Usage []byte
	// FinishReason is StringAfter(b, `"finish_reason":`).
	FinishReason []byte
	// Content is StringAfter(b, `"content":`).
	Content []byte
}

// Keys ScanChatChunk looks for, each a JSON string and what follows it.
const (
	chunkKeyError   = `"error"`
	chunkKeyUsage   = `"usage"`
	chunkKeyFinish  = `"finish_reason":`
	chunkKeyContent = `"content":`
)

// ScanChatChunk reads b as a relay of a chat.completion.chunk needs it, in
// one pass: every quote of b is visited once, and the four questions are
// answered from there, where asking them one at a time scanned b four
// times (most of a chunk's quotes start none of the keys). The answers are
// those of the functions named on ChatChunk's fields, for any b.
//
// A chunk's quotes are a few bytes apart, too close for a call of the
// vectorised bytes.IndexByte per quote to pay: eight bytes are tested at a
// time instead, and only a quote followed by a key's first letter is
// looked at further.
func ScanChatChunk(b []byte) ChatChunk {
	s := chunkScan{b: b}
	n := len(b)
	p := 0
	for ; p+8 <= n; p += 8 {
		for m := quoteMask(binary.LittleEndian.Uint64(b[p:])); m != 0; m &= m - 1 {
			if i := p + bits.TrailingZeros64(m)>>3; i+1 < n && keyLetter(b[i+1]) {
				s.at(i)
			}
		}
	}
	for ; p+1 < n; p++ {
		if b[p] == '"' && keyLetter(b[p+1]) {
			s.at(p)
		}
	}
	return s.c
}

// quoteMask has the high bit of each byte of x that is a quote: the zero
// bytes of x XOR quotes, found exactly (no borrow crosses a byte).
func quoteMask(x uint64) uint64 {
	const (
		quotes = 0x2222222222222222
		low7   = 0x7f7f7f7f7f7f7f7f
		high   = 0x8080808080808080
	)
	x ^= quotes
	return ^((x&low7 + low7) | x) & high
}

// keyLetter reports whether c is the first letter of a key ScanChatChunk
// looks for.
func keyLetter(c byte) bool { return c == 'e' || c == 'u' || c == 'f' || c == 'c' }

// chunkScan is ScanChatChunk's state.
type chunkScan struct {
	b []byte
	c ChatChunk
	// usageFrom is where FieldUnlessNull would look next for "usage";
	// usageDone is set once its answer is known, and so on.
	usageFrom                          int
	usageDone, finishDone, contentDone bool
}

// at looks at the quote at p, followed by a key's first letter.
func (s *chunkScan) at(p int) {
	b, rest := s.b, s.b[p:]
	switch b[p+1] {
	case 'e':
		if !s.c.Error && bytes.HasPrefix(rest, []byte(chunkKeyError)) {
			s.c.Error = true
		}
	case 'u':
		if s.usageDone || p < s.usageFrom || !bytes.HasPrefix(rest, []byte(chunkKeyUsage)) {
			return
		}
		// As FieldUnlessNull: a name whose value is null is passed over;
		// any other value is read with Field.
		j := skipSpace(b, p+len(chunkKeyUsage))
		if j >= len(b) || b[j] != ':' {
			s.usageFrom = p + len(chunkKeyUsage)
			return
		}
		j = skipSpace(b, j+1)
		if !bytes.HasPrefix(b[j:], []byte("null")) {
			s.c.Usage, s.usageDone = nonNull(Field(b, "usage")), true
			return
		}
		s.usageFrom = j + len("null")
	case 'f':
		if !s.finishDone && bytes.HasPrefix(rest, []byte(chunkKeyFinish)) {
			s.c.FinishReason, s.finishDone = stringAt(b, p+len(chunkKeyFinish))
		}
	case 'c':
		if !s.contentDone && bytes.HasPrefix(rest, []byte(chunkKeyContent)) {
			s.c.Content, s.contentDone = stringAt(b, p+len(chunkKeyContent))
		}
	}
}

// stringAt is StringAfter's look at one place where its key ends at i:
// done is set when StringAfter would return there, with s (the string's
// raw content, or nil for a string that does not end).
func stringAt(b []byte, i int) (s []byte, done bool) {
	j := skipSpace(b, i)
	if j >= len(b) || b[j] != '"' {
		return nil, false
	}
	e := skipString(b, j)
	if e < 0 {
		return nil, true
	}
	return b[j+1 : e-1], true
}
