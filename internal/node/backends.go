package node

import (
	"fmt"
	"os"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// buildBackends creates the backends of region's deployments. Secrets come
// from the environment variables the topology names. On failure it closes
// those it had created.
func buildBackends(cfg *topology.Config, region string, getenv func(string) string, clk clock.Clock) (_ map[string]backend.Backend, err error) {
	out := map[string]backend.Backend{}
	defer func() {
		if err != nil {
			for _, b := range out {
				b.Close()
			}
		}
	}()
	for i, d := range cfg.Deployments {
		if d.Region != region {
			continue
		}
		field := fmt.Sprintf("%s: deployments[%d].backend", cfg.File, i)
		b := d.Backend
		switch b.Type {
		case topology.BackendOpenAI:
			key := ""
			if b.APIKeyEnv != "" {
				key = getenv(b.APIKeyEnv)
				if key == "" {
					return nil, fmt.Errorf("%s.api_key_env: environment variable %s is empty or not set (fix: export it with the upstream API key, or remove api_key_env)", field, b.APIKeyEnv)
				}
			}
			out[d.Model] = backend.NewOpenAI(backend.OpenAIConfig{BaseURL: b.URL, Model: b.Model, APIKey: key,
				ConnectTimeout: b.ConnectTimeout.D(), FirstByteTimeout: b.FirstByteTimeout.D(), StreamIdleTimeout: b.StreamIdleTimeout.D(), Clock: clk, ServiceTiers: d.ServiceTiers})
		case topology.BackendMock:
			model := b.Model
			if model == "" {
				model = d.Model
			}
			m, err := backend.NewMock(backend.MockConfig{Model: model, TTFT: b.TTFT.D(), TokensPerSecond: b.TokensPerSecond,
				MaxConcurrency: d.Capacity.Concurrency(), RPM: d.Capacity.RequestsPerMinute(), TPM: d.Capacity.TokensPerMinute(),
				FailRate: b.FailRate, Seed: b.Seed, ConnectTimeout: b.ConnectTimeout.D(), FirstByteTimeout: b.FirstByteTimeout.D(),
				StreamIdleTimeout: b.StreamIdleTimeout.D(), API: b.API, Clock: clk, ServiceTiers: d.ServiceTiers})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			out[d.Model] = m
		case topology.BackendBedrock:
			bb, err := newBedrockBackend(d, clk)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", field, err)
			}
			out[d.Model] = bb
		default:
			return nil, fmt.Errorf("%s.type: %q is not a backend type", field, b.Type)
		}
	}
	return out, nil
}

// getenv is os.Getenv, replaceable in tests.
var getenv = os.Getenv
