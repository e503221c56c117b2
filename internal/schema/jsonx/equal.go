package jsonx

import (
	"bytes"
	"encoding/json"
	"reflect"
)

// Equivalent reports whether a and b hold the same JSON value, ignoring
// member order, whitespace, number spelling (1.5e3 equals 1500) and members
// whose value is null (the APIs treat null as absent).
func Equivalent(a, b []byte) (bool, error) {
	va, err := normalized(a)
	if err != nil {
		return false, err
	}
	vb, err := normalized(b)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(va, vb), nil
}

func normalized(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return dropNulls(v), nil
}

func dropNulls(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			if e == nil {
				delete(t, k)
				continue
			}
			t[k] = dropNulls(e)
		}
	case []any:
		for i, e := range t {
			t[i] = dropNulls(e)
		}
	}
	return v
}
