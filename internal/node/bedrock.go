package node

import (
	"errors"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// newBedrockBackend creates an Amazon Bedrock backend.
func newBedrockBackend(d topology.Deployment) (backend.Backend, error) {
	return nil, errors.New("type bedrock: the Amazon Bedrock backend is not available in this build yet (fix: use type openai or mock for this deployment)")
}
