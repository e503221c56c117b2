package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// CheckJSON checks that doc is one JSON value with no object key given
// twice at any level. encoding/json keeps the last of duplicate keys, so a
// policy with two "StringEquals" blocks in one Condition would silently
// lose the first one (an Allow wider than written, a Deny narrower); the
// YAML form refuses duplicates, and so does this. A syntax error is
// reported with its line and column. The error is a [*ParseError]
// (Statement -1) matching [ErrInvalidPolicy]; its Field is the path of the
// duplicate, e.g. "Statement[1].Condition.StringEquals".
func CheckJSON(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	type frame struct {
		object   bool
		keys     map[string]struct{}
		index    int
		path     string
		wantKey  bool
		childKey string
	}
	var stack []*frame
	// pathOf names the value about to be read in the innermost container.
	pathOf := func() string {
		if len(stack) == 0 {
			return ""
		}
		f := stack[len(stack)-1]
		if f.object {
			if f.path == "" {
				return f.childKey
			}
			return f.path + "." + f.childKey
		}
		return f.path + "[" + strconv.Itoa(f.index) + "]"
	}
	// valueDone advances the innermost container past a value.
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		f := stack[len(stack)-1]
		if f.object {
			f.wantKey = true
		} else {
			f.index++
		}
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return syntaxError(doc, int64(len(doc)), "unexpected end of the document")
		}
		if err != nil {
			return jsonError(doc, dec, err)
		}
		closing := false
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			closing = true
		}
		if len(stack) > 0 && !closing {
			if f := stack[len(stack)-1]; f.object && f.wantKey {
				k := tok.(string) // the decoder allows only a string here
				if _, dup := f.keys[k]; dup {
					f.childKey = k
					line, col := position(doc, dec.InputOffset())
					return &ParseError{Statement: -1, Field: pathOf(),
						Msg: fmt.Sprintf("duplicate key %q at line %d, column %d: JSON would keep only the last one and silently drop the other; merge the two into one (e.g. one StringEquals object with every key)", k, line, col)}
				}
				f.keys[k] = struct{}{}
				f.childKey, f.wantKey = k, false
				continue
			}
		}
		switch d := tok.(type) {
		case json.Delim:
			switch d {
			case '{':
				stack = append(stack, &frame{object: true, keys: map[string]struct{}{}, path: pathOf(), wantKey: true})
			case '[':
				stack = append(stack, &frame{path: pathOf()})
			case ']', '}':
				stack = stack[:len(stack)-1]
				valueDone()
			}
		default:
			valueDone()
		}
		if len(stack) == 0 {
			if _, err := dec.Token(); err != io.EOF {
				off := dec.InputOffset()
				if err != nil {
					return jsonError(doc, dec, err)
				}
				return syntaxError(doc, off, "extra data after the policy document")
			}
			return nil
		}
	}
}

// jsonError reports a decoding error with its position.
func jsonError(doc []byte, dec *json.Decoder, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return syntaxError(doc, se.Offset, se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return syntaxError(doc, int64(len(doc)), "unexpected end of the document")
	}
	return syntaxError(doc, dec.InputOffset(), err.Error())
}

func syntaxError(doc []byte, offset int64, msg string) *ParseError {
	line, col := position(doc, offset)
	return &ParseError{Statement: -1, Msg: fmt.Sprintf("not valid JSON at line %d, column %d: %s", line, col, msg)}
}

// position converts a byte offset of doc to a 1-based line and column
// (columns count bytes).
func position(doc []byte, offset int64) (line, col int) {
	if offset > int64(len(doc)) {
		offset = int64(len(doc))
	}
	if offset < 0 {
		offset = 0
	}
	before := doc[:offset]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}
