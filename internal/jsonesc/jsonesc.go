// Package jsonesc writes JSON strings byte for byte as encoding/json does
// (with its default HTML escaping), without reflection or allocation, for
// encoders that build JSON by hand: the audit trail's canonical encoding,
// whose bytes are hashed, and mockllm's streamed chunks.
package jsonesc

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// AppendString appends s to dst as a quoted JSON string.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendEscaped(dst, s)
	return append(dst, '"')
}

// AppendEscaped appends s to dst escaped for the inside of a JSON string:
// ", \, control characters, <, > and & are escaped, invalid UTF-8 becomes
// \ufffd, and U+2028 and U+2029 are escaped, exactly as encoding/json does.
func AppendEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		// Most text is plain ASCII: skip it eight bytes at a time.
		for i+8 <= len(s) && plain8(load8(s, i)) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// Masks for testing the eight bytes of a word at once.
const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// load8 returns s[i:i+8] as a little-endian word.
func load8(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// plain8 reports whether each byte of w is ASCII that AppendEscaped copies
// as it is: none below 0x20, none of " \ < > &, none of 0x80 or above. Each
// test below may mark a byte falsely only above a byte it marks rightly, so
// the answer for the word is exact.
func plain8(w uint64) bool {
	m := (w - 0x20*ones) &^ w // a byte below 0x20
	m |= w                    // a byte of 0x80 or above
	m |= zeroByte(w ^ ('"' * ones))
	m |= zeroByte(w ^ ('\\' * ones))
	m |= zeroByte(w ^ ('<' * ones))
	m |= zeroByte(w ^ ('>' * ones))
	m |= zeroByte(w ^ ('&' * ones))
	return m&high == 0
}

// zeroByte has the high bit of a byte set where x has a zero byte (and
// possibly above one).
func zeroByte(x uint64) uint64 { return (x - ones) &^ x }
