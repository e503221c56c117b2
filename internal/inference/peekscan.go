package inference

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file reads an OpenAI chat body into openaiPeek without
// encoding/json's reflection: the body is checked with validJSON (which
// answers as json.Valid does, in less than half its time), then
// its few interesting members are found with Members. Anything the
// scanner does not take as plain (a member named in another case or with
// escapes, a repeated member, a value of another type, a string with
// escapes or invalid UTF-8, an integer out of range) makes it give up, and
// the caller decodes with encoding/json, which also words the refusal: the
// scanner never decides differently from encoding/json, it only skips its
// cost on the bodies clients send (FuzzScanOpenAI compares the two).

// openaiMembers are openaiPeek's members, in its field order.
var openaiMembers = [...]string{"model", "messages", "max_tokens", "max_completion_tokens", "temperature",
	"top_p", "stream", "stream_options", "n", "tools", "functions", "tool_choice", "response_format",
	"logprobs", "top_logprobs", "reasoning_effort", "stop", "metadata"}

var (
	messageMembers = [...]string{"role", "content", "tool_calls", "tool_call_id"}
	partMembers    = [...]string{"type", "cache_control"}
	typeMembers    = [...]string{"type"}
	usageMembers   = [...]string{"include_usage"}
)

// scanOpenAI fills p from body and reports whether it could; on false, p
// is partly filled and the caller decodes body with encoding/json.
func scanOpenAI(body []byte, p *openaiPeek) bool {
	if !validJSON(body) {
		return false
	}
	ok, seen := true, uint32(0)
	wellFormed := Members(body, func(k, v []byte) {
		if !ok {
			return
		}
		i := memberIndex(k, openaiMembers[:])
		switch {
		case i == unknownMember:
			return
		case i < 0 || seen&(1<<i) != 0:
			ok = false
			return
		}
		seen |= 1 << i
		switch openaiMembers[i] {
		case "model":
			ok = ScanString(v, &p.Model)
		case "messages":
			ok = scanMessages(v, p)
		case "max_tokens":
			ok = scanInt(v, &p.MaxTokens)
		case "max_completion_tokens":
			ok = scanInt(v, &p.MaxCompletionTokens)
		case "temperature":
			ok = scanFloat(v, &p.Temperature)
		case "top_p":
			ok = scanFloat(v, &p.TopP)
		case "stream":
			ok = scanPlainBool(v, &p.Stream)
		case "stream_options":
			ok = scanStreamOptions(v, p)
		case "n":
			ok = scanInt(v, &p.N)
		case "tools":
			p.Tools = v
		case "functions":
			p.Functions = v
		case "tool_choice":
			p.ToolChoice = v
		case "response_format":
			ok = scanResponseFormat(v, p)
		case "logprobs":
			ok = scanBool(v, &p.Logprobs)
		case "top_logprobs":
			ok = scanInt(v, &p.TopLogprobs)
		case "reasoning_effort":
			p.ReasoningEffort = v
		case "stop":
			p.Stop = v
		case "metadata":
			// Rare: a map is left to encoding/json.
			ok = string(v) == "null"
		}
	})
	return ok && wellFormed
}

// unknownMember is memberIndex's answer for a member encoding/json
// ignores.
const unknownMember = -2

// memberIndex returns the index in names of the member key (as sent, still
// escaped), unknownMember when encoding/json would ignore it, or -1 when
// the scanner cannot tell (an escape, a byte outside ASCII, or another
// case of a name: encoding/json matches names case-insensitively).
func memberIndex(k []byte, names []string) int {
	for i, n := range names {
		if string(k) == n {
			return i
		}
	}
	for _, c := range k {
		if c == '\\' || c >= utf8.RuneSelf {
			return -1
		}
	}
	for _, n := range names {
		// k is ASCII here, and ASCII folds within its length: the length
		// test spares a copy of every long unknown key.
		if len(k) == len(n) && strings.EqualFold(string(k), n) {
			return -1
		}
	}
	return unknownMember
}

// plainString returns the content of the JSON string v when it holds no
// escape and is valid UTF-8 (its bytes are then its value).
func plainString(v []byte) ([]byte, bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	s := v[1 : len(v)-1]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, false
	}
	return s, utf8.Valid(s)
}

// ScanString sets *dst to the JSON string v (null leaves it) and reports
// whether it could: false for another type, an escape or invalid UTF-8.
func ScanString(v []byte, dst *string) bool {
	if string(v) == "null" {
		return true
	}
	s, ok := plainString(v)
	if !ok {
		return false
	}
	// The values every body carries are the package's constants, not
	// copies.
	switch string(s) {
	case "user":
		*dst = "user"
	case "assistant":
		*dst = "assistant"
	case "system":
		*dst = "system"
	case "text":
		*dst = "text"
	default:
		*dst = string(s)
	}
	return true
}

// scanInt sets *dst to the JSON integer v; null leaves it nil.
func scanInt(v []byte, dst **int) bool {
	if string(v) == "null" {
		return true
	}
	n, ok := plainInt(v)
	if ok {
		*dst = &n
	}
	return ok
}

// maxPlainDigits is the most digits plainInt reads: 18 never overflow a
// 64-bit int, 9 a 32-bit one. Longer integers go to encoding/json, which
// refuses what does not fit.
const maxPlainDigits = 9 + 9*(strconv.IntSize/64)

// plainInt returns the JSON integer v of at most maxPlainDigits digits.
func plainInt(v []byte) (int, bool) {
	neg := len(v) > 0 && v[0] == '-'
	digits := v
	if neg {
		digits = v[1:]
	}
	if len(digits) == 0 || len(digits) > maxPlainDigits {
		return 0, false
	}
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false // a fraction or an exponent: encoding/json refuses it for an int
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// scanFloat sets *dst to the JSON number v; null leaves it nil.
func scanFloat(v []byte, dst **float64) bool {
	if string(v) == "null" {
		return true
	}
	if len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
		return false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil {
		return false
	}
	*dst = &f
	return true
}

// scanBool sets *dst to the JSON boolean v; null leaves it nil.
func scanBool(v []byte, dst **bool) bool {
	if string(v) == "null" {
		return true
	}
	var b bool
	if !scanPlainBool(v, &b) {
		return false
	}
	*dst = &b
	return true
}

// scanPlainBool sets *dst to the JSON boolean v; null leaves it.
func scanPlainBool(v []byte, dst *bool) bool {
	switch string(v) {
	case "null":
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		return false
	}
	return true
}

// ScanObject calls fn with the index in names and the value of each member
// of the JSON object v that names one; it reports false for another type,
// a repeated member, a name the scanner cannot tell (memberIndex: one that
// differs from one of names only in case, or is escaped, which
// encoding/json would match), or when fn reports false. A null v calls
// nothing and reports true with null set.
func ScanObject(v []byte, names []string, fn func(i int, v []byte) bool) (null, ok bool) {
	if string(v) == "null" {
		return true, true
	}
	if len(v) == 0 || v[0] != '{' {
		return false, false
	}
	ok, seen := true, uint32(0)
	wellFormed := Members(v, func(k, v []byte) {
		if !ok {
			return
		}
		i := memberIndex(k, names)
		switch {
		case i == unknownMember:
			return
		case i < 0 || seen&(1<<i) != 0:
			ok = false
			return
		}
		seen |= 1 << i
		ok = fn(i, v)
	})
	return false, ok && wellFormed
}

func scanStreamOptions(v []byte, p *openaiPeek) bool {
	var include bool
	null, ok := ScanObject(v, usageMembers[:], func(_ int, v []byte) bool { return scanPlainBool(v, &include) })
	if !ok || null {
		return ok
	}
	p.StreamOptions = &struct {
		IncludeUsage bool `json:"include_usage"`
	}{IncludeUsage: include}
	return true
}

func scanResponseFormat(v []byte, p *openaiPeek) bool {
	var typ string
	null, ok := ScanObject(v, typeMembers[:], func(_ int, v []byte) bool { return ScanString(v, &typ) })
	if !ok || null {
		return ok
	}
	p.ResponseFormat = &struct {
		Type string `json:"type"`
	}{Type: typ}
	return true
}

// elements calls fn with each element of the JSON array v (valid JSON)
// until fn reports false, and reports whether all were taken.
func elements(v []byte, fn func(e []byte) bool) bool {
	i := skipSpace(v, 1)
	if i < len(v) && v[i] == ']' {
		return true
	}
	for i < len(v) {
		end := skipValue(v, i)
		if end < 0 {
			return false
		}
		if !fn(v[skipSpace(v, i):end]) {
			return false
		}
		i = skipSpace(v, end)
		if i >= len(v) || v[i] != ',' {
			return i < len(v) && v[i] == ']'
		}
		i = skipSpace(v, i+1)
	}
	return false
}

// countElements returns the number of elements of the JSON array v (valid
// JSON), or -1.
func countElements(v []byte) int {
	n := 0
	if !elements(v, func([]byte) bool { n++; return true }) {
		return -1
	}
	return n
}

func scanMessages(v []byte, p *openaiPeek) bool {
	if string(v) == "null" {
		return true
	}
	if len(v) == 0 || v[0] != '[' {
		return false
	}
	n := countElements(v)
	if n < 0 {
		return false
	}
	msgs := make([]openaiMessage, 0, n)
	ok := elements(v, func(e []byte) bool {
		var m openaiMessage
		null, ok := ScanObject(e, messageMembers[:], func(i int, v []byte) bool {
			switch i {
			case 0:
				return ScanString(v, &m.Role)
			case 1:
				m.Content = v
			case 2:
				m.ToolCalls = v
			case 3:
				m.ToolCallID = v
			}
			return true
		})
		if null {
			return false // left to encoding/json
		}
		msgs = append(msgs, m)
		return ok
	})
	if !ok {
		return false
	}
	p.Messages = msgs // never nil, as encoding/json's for []
	return true
}

// scanParts reads the JSON array of content parts c (valid JSON) into
// dst's storage, as encoding/json would into a []contentPart, and reports
// whether it could (see scanOpenAI).
func scanParts(c []byte, dst []contentPart) ([]contentPart, bool) {
	if len(c) == 0 || c[0] != '[' {
		return nil, false
	}
	ok := elements(c, func(e []byte) bool {
		var part contentPart
		null, ok := ScanObject(e, partMembers[:], func(i int, v []byte) bool {
			if i == 0 {
				return ScanString(v, &part.Type)
			}
			part.CacheControl = v
			return true
		})
		if null {
			return false
		}
		dst = append(dst, part)
		return ok
	})
	return dst, ok
}

// ScanString, ScanInt and ScanObject are the scanner's pieces the readers
// of upstream answers use too (see scanOpenAI: each reports false where
// encoding/json might read otherwise, and the caller then decodes with
// encoding/json). Each takes one value of a JSON text already checked with
// json.Valid.

// ScanInt sets *dst to the JSON integer v (null leaves it) and reports
// whether it could: false for another type, a fraction, an exponent or
// more than maxPlainDigits digits.
func ScanInt(v []byte, dst *int) bool {
	if string(v) == "null" {
		return true
	}
	n, ok := plainInt(v)
	if ok {
		*dst = n
	}
	return ok
}
