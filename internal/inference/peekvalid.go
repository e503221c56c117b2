package inference

import "encoding/json"

// validDepth is the nesting validJSON follows itself; a deeper text goes to
// json.Valid, which allows up to 10,000 levels.
const validDepth = 64

// validJSON reports json.Valid(b). It walks b once, without
// encoding/json's call per byte through its scanner's state function,
// and answers as json.Valid
// does for every input (FuzzValidJSON compares the two): the grammar of
// RFC 8259, whitespace of space, tab, newline and carriage return, any
// byte from 0x20 up inside a string (json.Valid does not check UTF-8).
// A peeked request body is checked with it before its members are read
// (scanOpenAI): about half of the scanner's time was json.Valid's.
func validJSON(b []byte) bool {
	// open[d] is true for an object, false for an array, at depth d+1.
	var open [validDepth]bool
	depth := 0
	i := skipSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return false
		}
		switch c := b[i]; c {
		case '{', '[':
			if depth == validDepth {
				return json.Valid(b)
			}
			open[depth] = c == '{'
			depth++
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				// Closed at once ({} or []): a value that ended.
				depth--
				i++
				break
			}
			if c == '{' {
				if i = validKey(b, i); i < 0 {
					return false
				}
			}
			continue
		case '"':
			if i = validString(b, i); i < 0 {
				return false
			}
		case 't':
			if i = validLiteral(b, i, "true"); i < 0 {
				return false
			}
		case 'f':
			if i = validLiteral(b, i, "false"); i < 0 {
				return false
			}
		case 'n':
			if i = validLiteral(b, i, "null"); i < 0 {
				return false
			}
		default:
			if i = validNumber(b, i); i < 0 {
				return false
			}
		}
		// A value ended at i: close the containers it ends, or go on
		// to the next member or element.
		for {
			i = skipSpace(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			obj := open[depth-1]
			c := b[i]
			if c == ',' {
				i = skipSpace(b, i+1)
				if obj {
					if i = validKey(b, i); i < 0 {
						return false
					}
				}
				break
			}
			if obj && c == '}' || !obj && c == ']' {
				depth--
				i++
				continue
			}
			return false
		}
	}
}

// validKey checks a member's key and its colon at i and returns the index
// of its value (spaces skipped), or -1.
func validKey(b []byte, i int) int {
	if i >= len(b) || b[i] != '"' {
		return -1
	}
	if i = validString(b, i); i < 0 {
		return -1
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return -1
	}
	return skipSpace(b, i+1)
}

// validString returns the index past the JSON string at i (b[i] == '"'),
// or -1: a control byte, an unknown escape or a \u without four hex
// digits in it, or no closing quote.
func validString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c < 0x20:
			return -1
		case c == '\\':
			i++
			if i >= len(b) {
				return -1
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return -1
				}
				for _, h := range b[i+1 : i+5] {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return -1
					}
				}
				i += 4
			default:
				return -1
			}
		}
	}
	return -1
}

// validLiteral returns the index past lit at i, or -1.
func validLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// validNumber returns the index past the JSON number at i, or -1:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?. What follows it is the
// caller's to check (a digit after a leading 0 is refused there).
func validNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = validDigits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := validDigits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := validDigits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

// validDigits returns the index past the decimal digits at i.
func validDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}
