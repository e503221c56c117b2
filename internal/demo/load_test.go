package demo_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/demo"
	"github.com/meridian-gateway/meridian/internal/demo/demotest"
	"github.com/meridian-gateway/meridian/internal/ui"
)

func TestLoadAndOperate(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute) // hang guard
	defer cancel()
	d := demotest.Start(t, ctx)

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
