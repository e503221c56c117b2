package header

import (
	"net/http"
	"reflect"
	"testing"
)

func TestBatchSetsAsHeaderSetDoes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int // the batch's room
		kv   []string
	}{
		{name: "one", n: 1, kv: []string{"X-A", "1"}},
		{name: "several", n: 3, kv: []string{"X-A", "1", "X-B", "", "Content-Type", "application/json"}},
		{name: "more than its room", n: 1, kv: []string{"X-A", "1", "X-B", "2", "X-C", "3"}},
		{name: "same key twice", n: 2, kv: []string{"X-A", "1", "X-A", "2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, want := http.Header{"X-Old": {"kept"}, "X-A": {"replaced", "too"}}, http.Header{"X-Old": {"kept"}, "X-A": {"replaced", "too"}}
			b := NewBatch(got, tc.n)
			for i := 0; i < len(tc.kv); i += 2 {
				b.Set(tc.kv[i], tc.kv[i+1])
				want.Set(tc.kv[i], tc.kv[i+1])
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("batch set %v, want %v", got, want)
			}
		})
	}
}

// TestBatchAddDoesNotClobber adds to a field set by a batch: the value
// appended must not land in the next field's slot of the shared array.
func TestBatchAddDoesNotClobber(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	b := NewBatch(h, 3)
	b.Set("X-A", "a")
	b.Set("X-B", "b")
	h.Add("X-A", "a2")
	b.Set("X-C", "c")
	want := http.Header{"X-A": {"a", "a2"}, "X-B": {"b"}, "X-C": {"c"}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("got %v, want %v", h, want)
	}
}

// TestBatchAllocs pins the point of a batch: one allocation (the values'
// array) for all its fields, into a header that already has room.
func TestBatchAllocs(t *testing.T) {
	h := http.Header{"X-A": nil, "X-B": nil, "X-C": nil}
	got := testing.AllocsPerRun(100, func() {
		b := NewBatch(h, 3)
		b.Set("X-A", "a")
		b.Set("X-B", "b")
		b.Set("X-C", "c")
	})
	if got != 1 {
		t.Errorf("%v allocations per batch of three, want 1 (the values' array)", got)
	}
}
