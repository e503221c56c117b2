package inference

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// This file reads and edits JSON bodies in place, without decoding them:
// pass-through changes only the bytes of the fields Meridian must set and
// keeps every other byte as the client sent it.

// skipSpace returns the index of the first non-space byte at or after i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string starting at i
// (b[i] == '"'), or -1.
func skipString(b []byte, i int) int {
	// Quote to quote (IndexByte is vectorised): a quote ends the string
	// unless an odd run of backslashes escapes it.
	for j := i + 1; j < len(b); j++ {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		n := 0
		for p := j - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value starting at i, or
// -1 when the value is malformed or truncated.
func skipValue(b []byte, i int) int {
	i = skipSpace(b, i)
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j)
				if j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// field returns the span [start, end) of the value of key in the JSON
// object b (top level only), or ok=false.
func field(b []byte, key string) (start, end int, ok bool) {
	i, ok := objectStart(b)
	for ok {
		var k []byte
		if k, start, end, i, ok = nextMember(b, i); ok && string(k) == key { // no allocation: the compiler compares in place
			return start, end, true
		}
	}
	return 0, 0, false
}

// objectStart returns the index after the opening brace of the JSON
// object b, or ok=false when b does not start with one.
func objectStart(b []byte) (int, bool) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	return i + 1, true
}

// nextMember reads the member of an object that starts at i (after the
// opening brace or a member): its key (still quoted and escaped) and the
// span [vs, ve) of its value, and next, where the member after it starts
// (past a comma). ok is false at the object's end and when the member is
// malformed. A missing comma between members is tolerated: the walk only
// looks for members, Members checks an object's form.
func nextMember(b []byte, i int) (k []byte, vs, ve, next int, ok bool) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '"' {
		return nil, 0, 0, 0, false
	}
	ke := skipString(b, i)
	if ke < 0 {
		return nil, 0, 0, 0, false
	}
	k = b[i+1 : ke-1]
	i = skipSpace(b, ke)
	if i >= len(b) || b[i] != ':' {
		return nil, 0, 0, 0, false
	}
	vs = skipSpace(b, i+1)
	ve = skipValue(b, vs)
	if ve < 0 {
		return nil, 0, 0, 0, false
	}
	next = skipSpace(b, ve)
	if next < len(b) && b[next] == ',' {
		next++
	}
	return k, vs, ve, next, true
}

// Field returns the raw value of the top-level key of the JSON object b,
// or nil.
func Field(b []byte, key string) []byte {
	s, e, ok := field(b, key)
	if !ok {
		return nil
	}
	return b[s:e]
}

// FieldUnlessNull is Field for a member that is usually null, as a
// stream's "usage" is in every chunk but the last: it returns the raw value
// of the top-level key of b, or nil when the key is absent or null.
//
// It looks for the key's name first: inside a JSON string a quote is
// escaped, so the name followed by a colon can appear in b only as a
// member's name, at some depth. When every such member is null, so is the
// top-level one (or it is absent), and the members are not walked; any
// other value is read with Field.
func FieldUnlessNull(b []byte, key string) []byte {
	var name [64]byte
	if len(key)+2 > len(name) {
		return nonNull(Field(b, key))
	}
	q := append(append(append(name[:0], '"'), key...), '"')
	for off := 0; ; {
		i := bytes.Index(b[off:], q)
		if i < 0 {
			return nil
		}
		j := skipSpace(b, off+i+len(q))
		if j >= len(b) || b[j] != ':' {
			off += i + len(q) // a string value, not a name
			continue
		}
		j = skipSpace(b, j+1)
		if !bytes.HasPrefix(b[j:], []byte("null")) {
			return nonNull(Field(b, key))
		}
		off = j + len("null")
	}
}

// nonNull is raw unless it is JSON null.
func nonNull(raw []byte) []byte {
	if bytes.Equal(raw, []byte("null")) {
		return nil
	}
	return raw
}

// AppendSetField appends to dst the object b with the top-level key set to
// the raw JSON value: replaced in place when present (every other byte
// kept), else inserted first.
func AppendSetField(dst, b []byte, key string, value []byte) []byte {
	if s, e, ok := field(b, key); ok {
		dst = append(dst, b[:s]...)
		dst = append(dst, value...)
		return append(dst, b[e:]...)
	}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return append(dst, b...)
	}
	dst = append(dst, b[:i+1]...)
	dst = strconv.AppendQuote(dst, key)
	dst = append(dst, ':')
	dst = append(dst, value...)
	if j := skipSpace(b, i+1); j < len(b) && b[j] != '}' {
		dst = append(dst, ',')
	}
	return append(dst, b[i+1:]...)
}

// AppendSetString is AppendSetField with a string value.
func AppendSetString(dst, b []byte, key, value string) []byte {
	var buf [128]byte
	return AppendSetField(dst, b, key, appendJSONString(buf[:0], value))
}

// appendJSONString appends s as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s)
			return append(dst, q...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// isNull reports whether raw is absent or JSON null.
func isNull(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// isSet reports whether raw is present and neither null nor an empty array
// or object.
func isSet(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return !isNull(raw) && !bytes.Equal(raw, []byte("[]")) && !bytes.Equal(raw, []byte("{}"))
}

// StringAfter returns the raw (still escaped) content of the first JSON
// string value that follows key ("\"text\":") in b, or nil.
func StringAfter(b []byte, key string) []byte {
	for off := 0; off < len(b); {
		i := bytes.Index(b[off:], []byte(key))
		if i < 0 {
			return nil
		}
		j := skipSpace(b, off+i+len(key))
		if j < len(b) && b[j] == '"' {
			e := skipString(b, j)
			if e < 0 {
				return nil
			}
			return b[j+1 : e-1]
		}
		off += i + len(key)
	}
	return nil
}

// deltaKey is the key whose string value is a stream event's new text.
func deltaKey(d Dialect) string {
	switch d {
	case DialectOpenAIChat:
		return `"content":`
	case DialectInvoke:
		return `"generation":`
	}
	return `"text":`
}

func deltaTextLen(d Dialect, raw []byte) int {
	s := StringAfter(raw, deltaKey(d))
	if s == nil && d == DialectInvoke {
		s = StringAfter(raw, `"outputText":`)
	}
	return len(s)
}

func deltaText(d Dialect, raw []byte) string {
	s := StringAfter(raw, deltaKey(d))
	if s == nil && d == DialectInvoke {
		s = StringAfter(raw, `"outputText":`)
	}
	return unquote(s)
}

// unquote decodes the content of a JSON string.
func unquote(s []byte) string {
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s)
	}
	var out string
	q := make([]byte, 0, len(s)+2)
	q = append(append(append(q, '"'), s...), '"')
	if json.Unmarshal(q, &out) != nil {
		return string(s)
	}
	return out
}

// answerText extracts the text of a complete answer in dialect d, for
// content recording.
func answerText(d Dialect, body []byte) string {
	var buf bytes.Buffer
	switch d {
	case DialectOpenAIChat:
		var r struct {
			Choices []struct {
				Message struct {
					Content string `json:"content"`
				} `json:"message"`
			} `json:"choices"`
		}
		if json.Unmarshal(body, &r) == nil && len(r.Choices) > 0 {
			return r.Choices[0].Message.Content
		}
	case DialectConverse:
		var r struct {
			Output struct {
				Message struct {
					Content []struct {
						Text string `json:"text"`
					} `json:"content"`
				} `json:"message"`
			} `json:"output"`
		}
		if json.Unmarshal(body, &r) == nil {
			for _, c := range r.Output.Message.Content {
				buf.WriteString(c.Text)
			}
		}
	case DialectAnthropic:
		var r struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		if json.Unmarshal(body, &r) == nil {
			for _, c := range r.Content {
				buf.WriteString(c.Text)
			}
		}
	default:
		return deltaText(d, body)
	}
	return buf.String()
}

// MediaTokens is the estimate of one inline image or document (a long
// base64 string or data URL): models count media by size in pixels or
// pages, not by the bytes of its encoding.
const MediaTokens = 1024

// mediaMin is the length from which a string without spaces is taken for
// inline media rather than text.
const mediaMin = 2048

// estimateJSON estimates the tokens of a JSON value: about four bytes a
// token, but MediaTokens for each string that is inline media.
func estimateJSON(b []byte) int {
	n, i := 0, 0
	for i < len(b) {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			n = SaturatingAdd(n, len(b)-i)
			break
		}
		n = SaturatingAdd(n, j)
		start := i + j
		end := skipString(b, start)
		if end < 0 {
			n = SaturatingAdd(n, len(b)-start)
			break
		}
		if l := end - start; l >= mediaMin && bytes.IndexByte(b[start:start+256], ' ') < 0 {
			n = SaturatingAdd(n, 4*MediaTokens)
		} else {
			n = SaturatingAdd(n, l)
		}
		i = end
	}
	return EstimateTokens(n)
}

// Members calls fn with the key (still quoted and escaped, as sent) and the
// raw value of every top-level member of the JSON object b, in order, and
// reports whether b is an object whose top level is well formed. It reads
// values only to skip them: a pass-through body is checked and its few
// interesting members found in one pass, without decoding the rest.
func Members(b []byte, fn func(key, value []byte)) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		ke := skipString(b, i)
		if ke < 0 {
			return false
		}
		k := b[i+1 : ke-1]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		vs := skipSpace(b, i+1)
		ve := skipValue(b, vs)
		if ve < 0 {
			return false
		}
		fn(k, b[vs:ve])
		i = skipSpace(b, ve)
		switch {
		case i < len(b) && b[i] == ',':
			i = skipSpace(b, i+1)
		case i < len(b) && b[i] == '}':
			return skipSpace(b, i+1) == len(b)
		default:
			return false
		}
	}
}
