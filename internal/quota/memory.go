package quota

import (
	"context"
	"github.com/meridian-gateway/meridian/internal/clock"
	"maps"
	"math"
	"strings"
	"sync"
	"time"
)

// Memory is a [Store] held in this process: exact for one replica, and the
// default. Several replicas with their own Memory each enforce the full limit
// on their own; use [Redis] for those. The zero value is not usable; call
// [NewMemory].
type Memory struct {
	clock Clock

	mu        sync.Mutex
	logs      map[logKey]*windowLog // RequestsPerMinute and TokensPerMinute rules
	leases    map[string]*leaseSet
	budgets   map[logKey]*budget
	cooldowns map[string]int64 // key → until (µs)
	states    map[string]state
	records   map[string]map[string]string // record set → field → value

	// spareLeases are emptied lease sets kept for reuse (at most
	// maxSpareLeases): below a key's limit its one lease is taken and
	// released on every request, and a fresh set costs allocations.
	spareLeases []*leaseSet
}

// leaseSet is a concurrency key's leases: reservation id → expiry (µs).
//
// A lease normally ends with its request's commit or release; expiry only
// reclaims those whose holder died. Looking for expired ones on every
// reservation cost a walk over every lease held, under the store's one
// lock, so that each request's admission grew with the requests in flight
// (and held the lock the longer the more requests waited for it). next is
// a lower bound of the earliest expiry: before it no lease can have
// expired, and the count of leases is exact without a walk.
type leaseSet struct {
	ids  map[string]int64
	next int64 // no lease expires before next (µs); math.MaxInt64 when empty
}

func newLeaseSet() *leaseSet {
	return &leaseSet{ids: make(map[string]int64), next: math.MaxInt64}
}

// add holds a lease for id until exp (µs).
func (ls *leaseSet) add(id string, exp int64) {
	ls.ids[id] = exp
	ls.next = min(ls.next, exp)
}

// expire drops the leases expired at now (exp <= now) and reports whether
// it had to walk the set. A removed lease leaves next a lower bound still.
func (ls *leaseSet) expire(now int64) (walked bool) {
	if now < ls.next {
		return false
	}
	next := int64(math.MaxInt64)
	for id, exp := range ls.ids {
		if exp <= now {
			delete(ls.ids, id)
			continue
		}
		next = min(next, exp)
	}
	ls.next = next
	return true
}

var _ Store = (*Memory)(nil)

type logKey struct {
	key  string
	kind Kind
}

type budget struct {
	window int64
	used   int64
	// held is the tokens each unsettled reservation of this window holds:
	// a settle adjusts by it and deletes it, so a repeated settle changes
	// nothing (as the Redis store's per-id record in the budget's hash).
	held map[string]int64
}

type state struct {
	value string
	until int64
}

// NewMemory returns an empty memory store that reads time from clock
// (nil means the system clock).
func NewMemory(clk Clock) *Memory {
	if clk == nil {
		clk = clock.Wall
	}
	return &Memory{
		clock:     clk,
		logs:      make(map[logKey]*windowLog),
		leases:    make(map[string]*leaseSet),
		budgets:   make(map[logKey]*budget),
		cooldowns: make(map[string]int64),
		states:    make(map[string]state),
		records:   make(map[string]map[string]string),
	}
}

func (m *Memory) now() int64 { return m.clock.Now().UnixMicro() }

// inProcess implements inProcess: the memory store never waits.
func (m *Memory) inProcess() bool { return true }

// maxSpareLeases bounds [Memory.spareLeases]: enough for the concurrency
// keys that one request's rules name, times a few requests.
const maxSpareLeases = 32

// newLeases returns an empty lease set, a spare one if there is one.
func (m *Memory) newLeases() *leaseSet {
	if n := len(m.spareLeases); n > 0 {
		ls := m.spareLeases[n-1]
		m.spareLeases[n-1] = nil
		m.spareLeases = m.spareLeases[:n-1]
		return ls
	}
	return newLeaseSet()
}

// dropLeases removes key's lease set, which is empty, keeping it as a spare.
func (m *Memory) dropLeases(key string, ls *leaseSet) {
	delete(m.leases, key)
	ls.next = math.MaxInt64
	if len(m.spareLeases) < maxSpareLeases {
		m.spareLeases = append(m.spareLeases, ls)
	}
}

const windowMicros = int64(Window / time.Microsecond)

func micros(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

// trim drops the entries that left the window and returns the log, or nil
// when it is empty (and then forgets it).
func (m *Memory) trim(k logKey, now int64) *windowLog {
	l := m.logs[k]
	if l == nil {
		return nil
	}
	i := 0
	for i < len(l.entries) && l.entries[i].at <= now-windowMicros {
		l.sum = addCount(l.sum, -l.entries[i].amount)
		l.drop(l.entries[i])
		i++
	}
	if i > 0 {
		// Re-slice rather than copy: at a steady rate one entry leaves per
		// admission, and copying the rest of a full window every time made
		// admission cost grow with the rate. append reallocates (copying
		// only the live entries) once the dropped front is used up, so the
		// backing array stays within twice the live entries.
		l.entries = l.entries[i:]
	}
	if len(l.entries) == 0 {
		delete(m.logs, k)
		return nil
	}
	return l
}

// Reserve implements [Store].
func (m *Memory) Reserve(ctx context.Context, c Claim) (Outcome, error) {
	if err := ctx.Err(); err != nil {
		return Outcome{}, err
	}
	if err := c.validate(); err != nil {
		return Outcome{}, err
	}
	// The outcome is allocated before the lock: an allocation may assist
	// the garbage collector, which the requests waiting for the lock would
	// wait for too.
	out := newOutcome(len(c.Rules))
	out.Admitted = true
	// What the check finds of each rule's counter, for the update (the
	// first eight rules: a request's usual count), so that a counter is
	// looked up once, not once per pass.
	var found [8]counterRef
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for i, r := range c.Rules {
		st := &out.Rules[i]
		k := logKey{r.Key, r.Kind}
		switch r.Kind {
		case RequestsPerMinute, TokensPerMinute:
			need := int64(1)
			if r.Kind == TokensPerMinute {
				need = c.Tokens
			}
			l := m.trim(k, now)
			if i < len(found) {
				found[i] = counterRef{log: l, ok: true}
			}
			var used int64
			if l != nil {
				used = l.sum
				st.Reset = micros(l.entries[len(l.entries)-1].at + windowMicros - now)
			}
			st.Used = used
			switch {
			case used+need <= r.Limit:
			case need > r.Limit:
				st.Rejected, st.TooLarge, st.RetryAfter = true, true, Window
			default:
				st.Rejected = true
				var freed int64
				for _, e := range l.entries {
					freed += e.amount
					if used-freed+need <= r.Limit {
						st.RetryAfter = micros(e.at + windowMicros - now)
						break
					}
				}
				if st.RetryAfter <= 0 {
					st.RetryAfter = Window // counts out of step; never report 0
				}
			}
		case Concurrency:
			ls := m.leases[r.Key]
			if ls != nil {
				ls.expire(now)
				st.Used = int64(len(ls.ids))
			}
			if i < len(found) {
				found[i] = counterRef{leases: ls, ok: true}
			}
			if st.Used+1 > r.Limit {
				st.Rejected = true
				st.RetryAfter = concurrencyRetry
			}
		case TokensPerDay, TokensPerMonth:
			wid, end := calendarWindow(r.Kind, now)
			out.Windows[i] = wid
			b := m.budgets[k]
			if b != nil && b.window != wid {
				delete(m.budgets, k)
				b = nil
			}
			if b != nil {
				st.Used = b.used
			}
			if i < len(found) {
				found[i] = counterRef{budget: b, ok: true}
			}
			if st.Used > 0 {
				st.Reset = micros(end - now)
			}
			if st.Used+c.Tokens > r.Limit {
				st.Rejected = true
				st.RetryAfter = micros(end - now)
				st.TooLarge = c.Tokens > r.Limit
			}
		}
		if st.Rejected {
			out.Admitted = false
		}
	}
	if !out.Admitted {
		return out, nil
	}
	for i, r := range c.Rules {
		st := &out.Rules[i]
		k := logKey{r.Key, r.Kind}
		// A counter found by the check, or one this loop made for an
		// earlier rule of the same key and kind, is the map's: a rule
		// whose counter the check did not find, or whose key and kind an
		// earlier rule shares, looks it up again.
		var ref counterRef
		if i < len(found) && found[i].ok && !sharesCounter(c.Rules[:i], r) {
			ref = found[i]
		} else {
			ref = m.lookup(k, r)
		}
		switch r.Kind {
		case RequestsPerMinute, TokensPerMinute:
			amount := int64(1)
			if r.Kind == TokensPerMinute {
				amount = c.Tokens
			}
			l := ref.log
			if l == nil {
				l = &windowLog{}
				m.logs[k] = l
			}
			l.insert(now, c.ID, amount)
			st.Used = l.sum
			st.Reset = micros(l.entries[len(l.entries)-1].at + windowMicros - now)
		case Concurrency:
			ls := ref.leases
			if ls == nil {
				ls = m.newLeases()
				m.leases[r.Key] = ls
			}
			ls.add(c.ID, now+c.Lease.Microseconds())
			st.Used = int64(len(ls.ids))
		case TokensPerDay, TokensPerMonth:
			b := ref.budget
			if b == nil {
				b = &budget{window: out.Windows[i], held: make(map[string]int64)}
				m.budgets[k] = b
			}
			b.used = addCount(b.used, c.Tokens)
			b.held[c.ID] = c.Tokens
			st.Used = b.used
			_, end := calendarWindow(r.Kind, now)
			if st.Used > 0 {
				st.Reset = micros(end - now)
			}
		}
	}
	return out, nil
}

// counterRef is what Reserve's check found of a rule's counter (nil when
// it has none yet).
type counterRef struct {
	log    *windowLog
	leases *leaseSet
	budget *budget
	ok     bool // set by the check
}

// lookup returns r's counter from the maps.
func (m *Memory) lookup(k logKey, r Rule) counterRef {
	switch r.Kind {
	case RequestsPerMinute, TokensPerMinute:
		return counterRef{log: m.logs[k], ok: true}
	case Concurrency:
		return counterRef{leases: m.leases[r.Key], ok: true}
	case TokensPerDay, TokensPerMonth:
		return counterRef{budget: m.budgets[k], ok: true}
	}
	return counterRef{}
}

// sharesCounter reports whether one of earlier counts in the counter of r
// (the same key and kind): the update of that rule may have made the
// counter since the check.
func sharesCounter(earlier []Rule, r Rule) bool {
	for _, e := range earlier {
		if e.Kind == r.Kind && e.Key == r.Key {
			return true
		}
	}
	return false
}

// outcomeParts holds an outcome's rule states and windows for up to eight
// rules (a request's usual count), so that they take one allocation.
type outcomeParts struct {
	rules   [8]RuleState
	windows [8]int64
}

// newOutcome returns an outcome with room for n rules' states and windows.
func newOutcome(n int) Outcome {
	if n > len(outcomeParts{}.rules) {
		return Outcome{Rules: make([]RuleState, n), Windows: make([]int64, n)}
	}
	p := new(outcomeParts)
	return Outcome{Rules: p.rules[:n:n], Windows: p.windows[:n:n]}
}

// calendarWindow returns the window number and end (µs) of a budget kind.
func calendarWindow(k Kind, now int64) (int64, int64) {
	t := time.UnixMicro(now)
	var wid int64
	var end time.Time
	if k == TokensPerDay {
		wid, end = dayWindow(t)
	} else {
		wid, end = monthWindow(t)
	}
	return wid, end.UnixMicro()
}

// Commit implements [Store].
func (m *Memory) Commit(ctx context.Context, c Claim, windows []int64, actual int64) error {
	return m.settle(c, windows, actual, false)
}

// Release implements [Store].
func (m *Memory) Release(ctx context.Context, c Claim, windows []int64) error {
	return m.settle(c, windows, 0, true)
}

func (m *Memory) settle(c Claim, windows []int64, actual int64, release bool) error {
	if err := c.validate(); err != nil {
		return err
	}
	actual = clampTokens(actual)
	m.mu.Lock()
	defer m.mu.Unlock()
	// windows is not needed: a budget holds its reservations' ids.
	_ = windows
	for _, r := range c.Rules {
		k := logKey{r.Key, r.Kind}
		switch r.Kind {
		case RequestsPerMinute, TokensPerMinute:
			if r.Kind == RequestsPerMinute && !release {
				continue // the admission counts as it was: no entry to find
			}
			l := m.logs[k]
			if l == nil {
				continue
			}
			j := l.find(c.ID)
			if j < 0 {
				continue
			}
			switch {
			case release:
				l.sum = addCount(l.sum, -l.entries[j].amount)
				l.drop(l.entries[j])
				l.entries = append(l.entries[:j], l.entries[j+1:]...)
				if len(l.entries) == 0 {
					delete(m.logs, k)
				}
			case r.Kind == TokensPerMinute:
				l.sum = addCount(l.sum, actual-l.entries[j].amount)
				l.entries[j].amount = actual
			}
		case Concurrency:
			if ls := m.leases[r.Key]; ls != nil {
				delete(ls.ids, c.ID)
				if len(ls.ids) == 0 {
					m.dropLeases(r.Key, ls)
				}
			}
		case TokensPerDay, TokensPerMonth:
			// Only a reservation still held in this window is settled;
			// the records go after the loop, so that a second rule on the
			// same counter settles it too, as Reserve counted it twice.
			b := m.budgets[k]
			if b == nil {
				continue
			}
			v, ok := b.held[c.ID]
			if !ok {
				continue
			}
			if release {
				b.used = addCount(b.used, -v)
			} else {
				b.used = addCount(b.used, actual-v)
			}
		}
	}
	for _, r := range c.Rules {
		if r.Kind == TokensPerDay || r.Kind == TokensPerMonth {
			if b := m.budgets[logKey{r.Key, r.Kind}]; b != nil {
				delete(b.held, c.ID)
			}
		}
	}
	return nil
}

// ReleaseLeases implements [Store].
func (m *Memory) ReleaseLeases(ctx context.Context, owner, keep string) (int, error) {
	if owner == "" {
		return 0, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for key, ls := range m.leases {
		for id := range ls.ids {
			if strings.HasPrefix(id, owner+"/") && !strings.HasPrefix(id, keep) {
				delete(ls.ids, id)
				n++
			}
		}
		if len(ls.ids) == 0 {
			m.dropLeases(key, ls)
		}
	}
	return n, nil
}

// SetCooldown implements [Store].
func (m *Memory) SetCooldown(ctx context.Context, key string, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	d = clampDuration(d)
	m.mu.Lock()
	defer m.mu.Unlock()
	until := m.now() + d.Microseconds()
	if until > m.cooldowns[key] {
		m.cooldowns[key] = until
	}
	return nil
}

// Cooldowns implements [Store].
func (m *Memory) Cooldowns(ctx context.Context, keys []string) (map[string]time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make(map[string]time.Duration)
	for _, k := range keys {
		until, ok := m.cooldowns[k]
		if !ok {
			continue
		}
		if until <= now {
			delete(m.cooldowns, k)
			continue
		}
		out[k] = micros(until - now)
	}
	return out, nil
}

// SetState implements [Store].
func (m *Memory) SetState(ctx context.Context, key, value string, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if value == "" || ttl <= 0 {
		delete(m.states, key)
		return nil
	}
	m.states[key] = state{value: value, until: m.now() + clampDuration(ttl).Microseconds()}
	return nil
}

// States implements [Store].
func (m *Memory) States(ctx context.Context, keys []string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make(map[string]string)
	for _, k := range keys {
		s, ok := m.states[k]
		if !ok {
			continue
		}
		if s.until <= now {
			delete(m.states, k)
			continue
		}
		out[k] = s.value
	}
	return out, nil
}

// PutRecords implements [Store].
func (m *Memory) PutRecords(ctx context.Context, name string, fields map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.records[name]
	if set == nil {
		set = map[string]string{}
		m.records[name] = set
	}
	maps.Copy(set, fields)
	return nil
}

// Records implements [Store].
func (m *Memory) Records(ctx context.Context, name string) (map[string]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := maps.Clone(m.records[name])
	if out == nil {
		out = map[string]string{}
	}
	return out, nil
}

// Ping implements [Store]; a memory store always answers.
func (m *Memory) Ping(ctx context.Context) error { return nil }

// Close implements [Store]; it does nothing.
func (m *Memory) Close() error { return nil }
