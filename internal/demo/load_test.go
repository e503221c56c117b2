package demo_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/demo"
	"github.com/meridian-gateway/meridian/internal/ui"
)

func TestLoadAndOperate(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // hang guard
	defer cancel()
	d := startDemo(t, ctx)

	st, err := d.Load(ctx, demo.LoadOptions{Rate: 40, Requests: 12, Seed: 7})
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if st.Sent != 12 || st.Succeeded != 12 || st.Failed != 0 {
		t.Errorf("Load(12 requests) = %+v, want 12 sent and succeeded", st)
	}

	// A bounded generator stops with its context.
	lctx, stop := context.WithCancel(ctx)
	done := make(chan demo.LoadStats)
	go func() { st, _ := d.Load(lctx, demo.LoadOptions{Rate: 20}); done <- st }()
	stop()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Load did not return after its context ended")
	}

	tests := []struct {
		action ui.Action
		want   string
	}{
		{ui.ActionDown, "down"},
		{ui.ActionThrottle, "throttled"},
		{ui.ActionRestore, "normal"},
	}
	for _, tc := range tests {
		if err := d.Operate("us-east-1", tc.action); err != nil {
			t.Fatalf("Operate(us-east-1, %v) = %v", tc.action, err)
		}
		acts := d.Actions()
		if got := acts["us-east-1"].String(); got != tc.want {
			t.Errorf("after Operate(us-east-1, %v): Actions()[us-east-1] = %s, want %s", tc.action, got, tc.want)
		}
		if got := acts["us-west-2"]; got != ui.ActionRestore {
			t.Errorf("after Operate(us-east-1, %v): Actions()[us-west-2] = %v, want normal", tc.action, got)
		}
	}
	if err := d.Operate("mars-1", ui.ActionDown); !errors.Is(err, ui.ErrUnknownRegion) {
		t.Errorf("Operate(mars-1) = %v, want ErrUnknownRegion", err)
	}
}

func startDemo(t *testing.T, ctx context.Context) *demo.Demo {
	t.Helper()
	var last error
	for range 8 {
		d, err := demo.Start(ctx, demo.Options{BasePort: freeBase(t), Dir: t.TempDir()})
		if err == nil {
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				d.Stop(sctx)
			})
			return d
		}
		last = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start demo: %v", last)
	return nil
}

// freeBase returns a port p such that p..p+5 and p+1000..p+1005 were free.
// It picks below Linux's ephemeral range (32768+), where outgoing
// connections of other tests would take ports at random.
func freeBase(t *testing.T) int {
	t.Helper()
	for range 200 {
		p := 20000 + rand.IntN(11000)
		if portsFree(p) {
			return p
		}
	}
	t.Fatal("no free port range for the demo")
	return 0
}

func portsFree(base int) bool {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := range 6 {
		for _, p := range []int{base + i, base + 1000 + i} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				return false
			}
			lns = append(lns, l)
		}
	}
	return true
}
