// Package header sets HTTP header fields without the allocations of
// http.Header.Set: a [Batch] gives several fields one backing array for
// their values, and takes keys already in canonical form, so nothing is
// canonicalised per request. It is a leaf (standard library only) that the
// front ends, the gateway, the route and the quota headers share.
package header

import "net/http"

// Batch sets fields of one header whose values share one backing array:
// setting n fields costs one allocation instead of n. The zero Batch is
// not usable; make one with [NewBatch].
type Batch struct {
	h    http.Header
	vals []string
}

// NewBatch returns a batch that sets fields of h, with room for n values
// (more grow the array, which costs one more allocation, never a wrong
// value).
func NewBatch(h http.Header, n int) Batch {
	return Batch{h: h, vals: make([]string, 0, n)}
}

// Set replaces the values of key with v, as h.Set(key, v) does. key must be
// in canonical form (a constant spelled canonically, or one computed once
// with http.CanonicalHeaderKey): Set does not canonicalise it.
//
// Each field gets a one-element slice of the shared array, capped at one
// element, so that a later h.Add on the field reallocates instead of
// overwriting the next field's value.
func (b *Batch) Set(key, v string) {
	b.vals = append(b.vals, v)
	n := len(b.vals)
	b.h[key] = b.vals[n-1 : n : n]
}
