package quota

import "testing"

func TestMemoryStore(t *testing.T) {
	runStoreSuite(t, func(t *testing.T, clock Clock) func() Store {
		m := NewMemory(clock)
		return func() Store { return m }
	})
}
