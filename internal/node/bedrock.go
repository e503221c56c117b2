package node

import (
	"context"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// newBedrockBackend creates an Amazon Bedrock backend.
func newBedrockBackend(d topology.Deployment, clk clock.Clock) (backend.Backend, error) {
	b := d.Backend
	return backend.NewBedrock(context.Background(), backend.BedrockConfig{Region: b.AWSRegion, Model: b.Model, Endpoint: b.Endpoint, Family: b.Family,
		ConnectTimeout: b.ConnectTimeout.D(), FirstByteTimeout: b.FirstByteTimeout.D(), StreamIdleTimeout: b.StreamIdleTimeout.D(), Clock: clk, ServiceTiers: d.ServiceTiers})
}
