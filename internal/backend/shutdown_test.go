package backend

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestShutdownCutIsNotATimeout: a call whose context the node's drain cut
// (cause inference.ErrShutdown) fails as the shutdown, whatever the read or
// send saw; a caller's hang-up and a deadline keep their own kinds.
func TestShutdownCutIsNotATimeout(t *testing.T) {
	cut, cancelCut := context.WithCancelCause(context.Background())
	cancelCut(inference.ErrShutdown)
	child, cancelChild := context.WithCancel(cut) // the backend's own context under the request's
	defer cancelChild()
	hungUp, cancelHungUp := context.WithCancel(context.Background())
	cancelHungUp()
	late, cancelLate := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelLate()
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		wantKind inference.ErrorKind
		wantCode string
	}{
		{"drain cut", cut, inference.KindUnavailable, inference.CodeShutdown},
		{"drain cut, child context", child, inference.KindUnavailable, inference.CodeShutdown},
		{"caller hung up", hungUp, inference.KindUnavailable, ""},
		{"deadline", late, inference.KindTimeout, ""},
	} {
		for op, e := range map[string]*inference.Error{
			"read": readError(tc.ctx, "read upstream stream", io.ErrUnexpectedEOF),
			"send": transportError(tc.ctx, context.Cause(tc.ctx)),
		} {
			if tc.name == "caller hung up" && op == "read" {
				continue // a read cut by a hang-up is the gateway's to tell (hungUp); readError sees a cancelled call
			}
			if e.Kind != tc.wantKind || e.Code != tc.wantCode {
				t.Errorf("%s, %s: kind %v code %q, want %v %q", tc.name, op, e.Kind, e.Code, tc.wantKind, tc.wantCode)
			}
			if tc.wantCode == inference.CodeShutdown && (e.RetryAfter != inference.ShutdownRetryAfter || !errors.Is(e, io.ErrUnexpectedEOF) && op == "read") {
				t.Errorf("%s, %s: retry after %v, err %v; want %v and the read's error kept", tc.name, op, e.RetryAfter, e.Err, inference.ShutdownRetryAfter)
			}
		}
	}
}
