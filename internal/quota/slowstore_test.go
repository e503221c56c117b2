package quota

import (
	"context"
	"errors"
	"testing"
	"time"
)

// slowStore wraps a store whose Reserve of one principal's claims waits
// (announcing on entered) until its reply is given on reply: a command
// stuck on a connection that died, answered by its time-out.
type slowStore struct {
	Store
	slowKey string
	entered chan struct{}
	reply   chan error
}

func (s *slowStore) Reserve(ctx context.Context, c Claim) (Outcome, error) {
	if len(c.Rules) > 0 && c.Rules[0].Key == s.slowKey {
		s.entered <- struct{}{}
		if err := <-s.reply; err != nil {
			return Outcome{}, err
		}
	}
	return s.Store.Reserve(ctx, c)
}

var errReadTimeout = errors.New("read tcp 127.0.0.1:51234->127.0.0.1:6379: i/o timeout")

// TestSlowStoreRecovers: an admission stuck on the store that times out
// after another admission, begun after it, was answered does not mark
// the store down (under fail_closed that refused every request until the
// next probe, a second later, though the store answered); one that began
// after the last success does, and the next probe (by the injected clock)
// finds it up again.
func TestSlowStoreRecovers(t *testing.T) {
	tests := []struct {
		name string
		// answered: another admission begins and succeeds while the slow
		// one waits (else it succeeded before the slow one began).
		answered bool
		wantUp   bool
	}{
		{name: "stale failure: another answered since", answered: true, wantUp: true},
		{name: "fresh failure", answered: false, wantUp: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock(suiteStart)
			s := &slowStore{Store: NewMemory(clock), slowKey: "p/slow", entered: make(chan struct{}), reply: make(chan error)}
			l := newTestLimiter(t, s, clock, Config{OnStoreError: FailClosed})
			defer l.Close()
			fast := Request{Principal: "fast", Limits: Limits{RPM: 100}}
			if !tc.answered {
				mustAdmit(t, l, fast)
			}
			done := make(chan error, 1)
			go func() {
				_, err := l.Admit(context.Background(), Request{Principal: "slow", Limits: Limits{RPM: 100}})
				done <- err
			}()
			select {
			case <-s.entered:
			case <-time.After(time.Minute): // a hang guard
				t.Fatal("the slow admission never reached the store")
			}
			clock.Advance(10 * time.Millisecond)
			if tc.answered {
				mustAdmit(t, l, fast)
			}
			clock.Advance(time.Second / 2)
			s.reply <- errReadTimeout
			if err := <-done; !errors.Is(err, ErrStoreUnavailable) {
				t.Fatalf("the slow admission = %v, want ErrStoreUnavailable", err)
			}
			if got := l.Healthy(); got != tc.wantUp {
				t.Fatalf("Healthy() after the slow admission failed = %v, want %v", got, tc.wantUp)
			}
			_, err := l.Admit(t.Context(), fast)
			if tc.wantUp && err != nil {
				t.Fatalf("the next admission = %v, want admitted", err)
			}
			if !tc.wantUp {
				if !errors.Is(err, ErrStoreUnavailable) {
					t.Fatalf("the next admission, no probe due = %v, want ErrStoreUnavailable", err)
				}
				// The store answers; the next probe finds it.
				clock.Advance(probeInterval)
				mustAdmit(t, l, fast)
				if !l.Healthy() {
					t.Error("not healthy after a successful probe")
				}
			}
		})
	}
}
