package detach

import "sync"

// Group owns the goroutines that finish detached calls after their
// callers have returned (a response body read to its end so that its
// connection is pooled): the component that starts them closes the
// group when it closes, which stops those still running and waits for
// them, so that none outlives its owner. The zero value is ready to use;
// a Group is safe for concurrent use and must not be copied.
type Group struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	closed bool
	// stops holds the stop function of each goroutine still running.
	stops map[uint64]func()
	next  uint64
}

// Go runs f on a goroutine of its own and reports true, or, once the
// group is closed, runs nothing and reports false (the caller then ends
// the call itself, at once). stop must make f return soon (by cancelling
// its request, say) and may be called while f runs; Close calls it, at
// most once, for an f still running.
func (g *Group) Go(f, stop func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	if g.stops == nil {
		g.stops = map[uint64]func(){}
	}
	id := g.next
	g.next++
	g.stops[id] = stop
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
		g.mu.Lock()
		delete(g.stops, id)
		g.mu.Unlock()
	}()
	return true
}

// Close stops the goroutines still running (their stop functions) and
// waits until every goroutine of the group has returned. Go starts
// nothing after it. Close may be called more than once.
func (g *Group) Close() {
	g.mu.Lock()
	g.closed = true
	for id, stop := range g.stops {
		stop()
		delete(g.stops, id)
	}
	g.mu.Unlock()
	g.wg.Wait()
}
