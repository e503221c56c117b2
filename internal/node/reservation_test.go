package node

import (
	"errors"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/quota"
)

func isDeploymentLimited(err error) bool { return errors.Is(err, gateway.ErrDeploymentLimited) }

func TestAdmitErrorCarriesRateLimitHeaders(t *testing.T) {
	t.Parallel()
	le := &quota.LimitError{Scope: quota.ScopePrincipal, Name: "alice", Kind: quota.RequestsPerMinute, Limit: 60, RetryAfter: 7 * time.Second,
		Status: quota.Status{Requests: quota.Meter{Limit: 60, Remaining: 0, Reset: 7 * time.Second}}}
	err := admitError(le)
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.KindThrottled || e.RetryAfter != 7*time.Second {
		t.Fatalf("admitError = %v", err)
	}
	if e.Header.Get("X-Ratelimit-Limit-Requests") != "60" || e.Header.Get("Retry-After") != "" {
		t.Errorf("headers %v: want x-ratelimit-* and no duplicate Retry-After", e.Header)
	}
	if isDeploymentLimited(err) {
		t.Error("a principal's limit reported as a deployment's")
	}
	dep := admitError(&quota.LimitError{Scope: quota.ScopeDeployment, Name: "eu-west-1/m", Kind: quota.Concurrency, RetryAfter: time.Second})
	if !isDeploymentLimited(dep) {
		t.Error("a deployment's capacity not recognised: failover would stop")
	}
}

// TestGatewayDefaultsMatchAdapters: the gateway declares the defaults it
// needs instead of importing the adapters; they must stay equal to the
// adapters' own.
func TestGatewayDefaultsMatchAdapters(t *testing.T) {
	t.Parallel()
	if gateway.DefaultMaxTokens != quota.DefaultMaxTokens {
		t.Errorf("gateway.DefaultMaxTokens = %d, want quota.DefaultMaxTokens %d", gateway.DefaultMaxTokens, quota.DefaultMaxTokens)
	}
	if gateway.DefaultStreamIdleTimeout != backend.DefaultStreamIdleTimeout {
		t.Errorf("gateway.DefaultStreamIdleTimeout = %v, want backend.DefaultStreamIdleTimeout %v", gateway.DefaultStreamIdleTimeout, backend.DefaultStreamIdleTimeout)
	}
	if gateway.MaxRequestedModel != audit.MaxRequestedModelID {
		t.Errorf("gateway.MaxRequestedModel = %d, want audit.MaxRequestedModelID %d", gateway.MaxRequestedModel, audit.MaxRequestedModelID)
	}
}
