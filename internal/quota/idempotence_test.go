package quota

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// idemRules are one rule of each kind on key, with room for a few claims.
func idemRules(key string) []Rule {
	return []Rule{
		{Key: key, Kind: RequestsPerMinute, Limit: 2},
		{Key: key, Kind: TokensPerMinute, Limit: 10000},
		{Key: key, Kind: Concurrency, Limit: 2},
		{Key: key, Kind: TokensPerDay, Limit: 10000},
		{Key: key, Kind: TokensPerMonth, Limit: 10000},
	}
}

// usedBy reserves, and releases, a 0-token probe claim on key and returns
// what each rule counted before it (its used minus the probe's request).
func usedBy(t *testing.T, s Store, key, id string) []int64 {
	t.Helper()
	rules := idemRules(key)
	for i := range rules {
		rules[i].Limit = 1 << 40 // the probe is never refused
	}
	c := Claim{ID: id, Rules: rules, Lease: time.Minute}
	out, err := s.Reserve(t.Context(), c)
	if err != nil || !out.Admitted {
		t.Fatalf("probe: %+v, %v", out, err)
	}
	if err := s.Release(t.Context(), c, out.Windows); err != nil {
		t.Fatal(err)
	}
	used := make([]int64, len(out.Rules))
	for i, st := range out.Rules {
		used[i] = st.Used
		if k := rules[i].Kind; k == RequestsPerMinute || k == Concurrency {
			used[i]-- // the probe's own request
		}
	}
	return used
}

// testSettleIdempotent: a commit or release applied twice (a retry after a
// reply that timed out although the settlement ran) changes nothing the
// second time, and a release of an id never reserved changes nothing.
// Counts are rpm, tpm, concurrency, day, month.
func testSettleIdempotent(t *testing.T, clients func() Store, clock *fakeClock) {
	s := clients()
	ctx := t.Context()
	key := "p/settle-idem"
	reserve := func(id string, tokens int64) (Claim, []int64) {
		c := Claim{ID: id, Rules: idemRules(key), Tokens: tokens, Lease: time.Minute}
		out, err := s.Reserve(ctx, c)
		if err != nil || !out.Admitted {
			t.Fatalf("reserve %s: %+v, %v", id, out, err)
		}
		return c, out.Windows
	}
	a, aw := reserve("a", 500)
	b, bw := reserve("b", 100)
	for range 2 {
		if err := s.Commit(ctx, b, bw, 60); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := usedBy(t, s, key, "probe1"), []int64{2, 560, 1, 560, 560}; !cmp.Equal(got, want) {
		t.Errorf("after reserve 500, reserve 100, commit 60 twice: used %v, want %v", got, want)
	}
	for range 2 {
		if err := s.Release(ctx, a, aw); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := usedBy(t, s, key, "probe2"), []int64{1, 60, 0, 60, 60}; !cmp.Equal(got, want) {
		t.Errorf("after releasing the 500 twice: used %v, want %v", got, want)
	}
	never := Claim{ID: "never", Rules: idemRules(key), Tokens: 60, Lease: time.Minute}
	if err := s.Release(ctx, never, make([]int64, len(never.Rules))); err != nil {
		t.Fatal(err)
	}
	if got, want := usedBy(t, s, key, "probe3"), []int64{1, 60, 0, 60, 60}; !cmp.Equal(got, want) {
		t.Errorf("after releasing an id never reserved: used %v, want %v", got, want)
	}
}

func TestSettleIdempotent(t *testing.T) {
	srv := startRedis(t)
	makers := []struct {
		name string
		mk   func(t *testing.T, clock Clock) Store
	}{
		{"memory", func(t *testing.T, clock Clock) Store { return NewMemory(clock) }},
		{"redis", func(t *testing.T, clock Clock) Store { return srv.newClient(t, "idem:"+t.Name()+":", clock) }},
		{"cluster", func(t *testing.T, clock Clock) Store {
			return sharedRedisCluster(t).newClient(t, "idem:"+t.Name()+":", clock)
		}},
	}
	for _, m := range makers {
		t.Run(m.name, func(t *testing.T) {
			clock := newFakeClock(suiteStart)
			s := m.mk(t, clock)
			testSettleIdempotent(t, func() Store { return s }, clock)
		})
	}
}

// TestRedisReserveIdempotent: the reserve script run twice with one
// reservation id (a client re-sending a command whose reply timed out)
// records the reservation once and answers the same both times, also when
// the second run would have been refused had it counted anew.
func TestRedisReserveIdempotent(t *testing.T) {
	srv := startRedis(t)
	for _, name := range []string{"redis", "cluster"} {
		t.Run(name, func(t *testing.T) {
			clock := newFakeClock(suiteStart)
			var s Store
			if name == "redis" {
				s = srv.newClient(t, "rsv-idem:", clock)
			} else {
				s = sharedRedisCluster(t).newClient(t, "rsv-idem:", clock)
			}
			ctx := t.Context()
			key := "p/reserve-idem"
			first := Claim{ID: "x", Rules: idemRules(key), Tokens: 100, Lease: time.Minute}
			o1, err := s.Reserve(ctx, first)
			if err != nil || !o1.Admitted {
				t.Fatalf("first: %+v, %v", o1, err)
			}
			other := first
			other.ID = "y"
			if o, err := s.Reserve(ctx, other); err != nil || !o.Admitted {
				t.Fatalf("second claim: %+v, %v", o, err)
			}
			// rpm and concurrency are now full (limit 2): a re-sent "x"
			// must still be admitted, with its first answer's counts but
			// for what "y" added since.
			o2, err := s.Reserve(ctx, first)
			if err != nil || !o2.Admitted {
				t.Fatalf("re-sent reserve: %+v, %v", o2, err)
			}
			want := []int64{2, 200, 2, 200, 200}
			for i, st := range o2.Rules {
				if st.Used != want[i] || st.Rejected {
					t.Errorf("re-sent reserve, rule %v: %+v, want used %d", first.Rules[i].Kind, st, want[i])
				}
			}
			if !cmp.Equal(o1.Windows, o2.Windows) {
				t.Errorf("windows %v, then %v", o1.Windows, o2.Windows)
			}
			if got, want := usedBy(t, s, key, "probe"), []int64{2, 200, 2, 200, 200}; !cmp.Equal(got, want) {
				t.Errorf("after reserving x twice and y once: used %v, want %v", got, want)
			}
			// The reviewer's repro: one 100-token reservation reserved twice.
			solo := Claim{ID: "z", Rules: idemRules("p/reserve-idem-solo"), Tokens: 100, Lease: time.Minute}
			for range 2 {
				if o, err := s.Reserve(ctx, solo); err != nil || !o.Admitted || o.Rules[1].Used != 100 || o.Rules[3].Used != 100 {
					t.Fatalf("solo reserve: %+v, %v", o, err)
				}
			}
		})
	}
}

// lostReply wraps a store whose next Reserve runs but loses its reply, as
// a read that times out after the command reached the server.
type lostReply struct {
	Store
	lose bool
}

var errReplyTimeout = errors.New("read tcp 127.0.0.1:51234->127.0.0.1:6379: i/o timeout")

func (s *lostReply) Reserve(ctx context.Context, c Claim) (Outcome, error) {
	out, err := s.Store.Reserve(ctx, c)
	if s.lose {
		s.lose = false
		return Outcome{}, errReplyTimeout
	}
	return out, err
}

// TestReserveLostReplyReleased: under fail_closed, a reserve that ran on
// Redis but whose reply was lost refuses the request and gives back all it
// recorded (request slot, tokens, concurrency lease, day and month tokens)
// through the deferred settlements, once the store answers again.
func TestReserveLostReplyReleased(t *testing.T) {
	srv := startRedis(t)
	clock := newFakeClock(suiteStart)
	s := &lostReply{Store: srv.newClient(t, "lost:", clock)}
	l := newTestLimiter(t, s, clock, Config{})
	defer l.Close()
	ctx := t.Context()
	req := Request{Principal: "trent", Model: "m", InputTokens: 100, MaxTokens: 100,
		Limits: Limits{RPM: 1, TPM: 200, MaxConcurrency: 1, TokensPerDay: 200, TokensPerMonth: 200}}
	s.lose = true
	if _, err := l.Admit(ctx, req); !errors.Is(err, ErrStoreUnavailable) {
		t.Fatalf("Admit with the reply lost = %v, want ErrStoreUnavailable", err)
	}
	// Another caller's admission is the store's next success: the queued
	// release runs.
	clock.Advance(probeInterval)
	mustAdmit(t, l, Request{Principal: "other", Limits: Limits{RPM: 1}})
	l.wg.Wait()
	// Everything of the lost reservation is free again: the same request,
	// which fills every limit, is admitted.
	mustAdmit(t, l, req)
}
