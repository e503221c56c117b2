package gateway

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestAuditError: the audit writer's refusals reach clients as 429 (queue
// full) or 503 (trail unavailable), each with a Retry-After.
func TestAuditError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		kind       inference.ErrorKind
		retryAfter time.Duration
	}{
		{"queue full", audit.ErrBackpressure, inference.KindThrottled, time.Second},
		{"disk full", &audit.UnavailableError{Cause: syscall.ENOSPC, RetryAfter: 4 * time.Second}, inference.KindUnavailable, 4 * time.Second},
		{"retry after at least a second", &audit.UnavailableError{Cause: syscall.EIO}, inference.KindUnavailable, time.Second},
	}
	for _, tc := range tests {
		var e *inference.Error
		if err := auditError(tc.err); !errors.As(err, &e) || e.Kind != tc.kind || e.RetryAfter != tc.retryAfter || !errors.Is(err, tc.err) {
			t.Errorf("%s: auditError(%v) = %#v, want kind %v with Retry-After %v wrapping the cause", tc.name, tc.err, err, tc.kind, tc.retryAfter)
		}
	}
	if err := auditError(nil); err != nil {
		t.Errorf("auditError(nil) = %v", err)
	}
}
