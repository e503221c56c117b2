// Package jsonx keeps JSON objects whole across a decode and encode: fields a
// schema type does not declare are collected in an Extra map and written back
// unchanged. It also scans raw JSON without decoding it, for cheap peeks.
// It imports only the standard library and performs no I/O.
package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Extra holds the members of a JSON object that its Go type does not
// declare, by key, with each value's raw bytes. A nil Extra means none.
type Extra map[string]json.RawMessage

var knownCache sync.Map // reflect.Type -> map[string]bool

// known returns the JSON member names a struct type declares.
func known(t reflect.Type) map[string]bool {
	if v, ok := knownCache.Load(t); ok {
		return v.(map[string]bool)
	}
	names := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		names[name] = true
	}
	knownCache.Store(t, names)
	return names
}

// ErrNotObject reports a JSON value that is not an object where one was required.
var ErrNotObject = errors.New("not a JSON object")

// UnmarshalObject decodes the JSON object data into v, a pointer to a struct
// type without its own UnmarshalJSON (callers pass a converted alias type),
// and stores the members v's type does not declare in *extra. A JSON null
// leaves v and *extra unchanged.
func UnmarshalObject(data []byte, v any, extra *Extra) error {
	data = bytes.TrimSpace(data)
	if string(data) == "null" {
		return nil
	}
	if len(data) == 0 || data[0] != '{' {
		return ErrNotObject
	}
	if err := json.Unmarshal(data, v); err != nil {
		return err
	}
	names := known(reflect.TypeOf(v).Elem())
	var rest Extra
	err := Members(data, func(key, value []byte) error {
		k, err := Key(key)
		if err != nil {
			return err
		}
		if names[k] {
			return nil
		}
		if rest == nil {
			rest = Extra{}
		}
		rest[k] = json.RawMessage(slices.Clone(value))
		return nil
	})
	if err != nil {
		return err
	}
	*extra = rest
	return nil
}

// MarshalObject encodes v, a struct value without its own MarshalJSON (callers
// pass a converted alias type), and appends the members of extra in key order.
// Members of extra whose key v's type declares are skipped: declared fields win.
func MarshalObject(v any, extra Extra) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return b, err
	}
	names := known(reflect.TypeOf(v))
	keys := make([]string, 0, len(extra))
	for k := range extra {
		if !names[k] {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := b[:len(b)-1]
	for _, k := range keys {
		val := extra[k]
		if len(bytes.TrimSpace(val)) == 0 || !json.Valid(val) {
			return nil, errors.New("jsonx: invalid raw value for member " + k)
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		kb, _ := json.Marshal(k)
		out = append(out, kb...)
		out = append(out, ':')
		out = append(out, val...)
	}
	return append(out, '}'), nil
}

// Keys returns the sorted keys of e, for error messages and tests.
func (e Extra) Keys() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Ensure returns the encoded object b with member key set to raw when b has
// no such member. Encoders use it for members the wire requires even when
// empty (an empty "text" of a text block).
func Ensure(b []byte, key, raw string) []byte {
	found := false
	Members(b, func(k, _ []byte) error {
		if KeyIs(k, key) {
			found = true
		}
		return nil
	})
	if found || len(b) < 2 {
		return b
	}
	kb, _ := json.Marshal(key)
	out := make([]byte, 0, len(b)+len(kb)+len(raw)+2)
	out = append(out, b[:len(b)-1]...)
	if len(b) > 2 {
		out = append(out, ',')
	}
	out = append(out, kb...)
	out = append(out, ':')
	out = append(out, raw...)
	return append(out, '}')
}
