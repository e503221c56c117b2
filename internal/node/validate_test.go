package node

import (
	"errors"
	"testing"

	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestValidateAgreesWithServe: `config validate` (topology.Parse) and
// `serve` (the adapters' own validation of their sections) agree. Every
// config the topology accepts, at the edges of the bounds, is accepted by
// the quota, audit, link and routing validators; and every value those
// refuse is refused by the topology first.
func TestValidateAgreesWithServe(t *testing.T) {
	t.Parallel()
	const base = `account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
`
	adapters := func(cfg *topology.Config) error {
		qc, err := quotaConfig(cfg.Quota, func(string) string { return "" })
		if err != nil {
			return err
		}
		ac := auditConfig(cfg.Audit)
		rc, err := cfg.RoutingConfig()
		if err != nil {
			return err
		}
		lc := linkConfig(cfg.Link)
		lc.InsecureDevLink = false
		lc.CAFile, lc.CertFile, lc.KeyFile = "ca", "cert", "key"
		return errors.Join(qc.Validate(), ac.Validate(), rc.Validate(), lc.Validate("link"))
	}
	accepted := []string{
		"",
		"audit: {fsync_interval: 0s, digest_interval: 0s, rotate_interval: 0s, rotate_bytes: 0, queue_size: 0}\n",
		"audit: {fsync_interval: 1ms, rotate_bytes: 1, queue_size: 1}\n",
		"quota: {lease_ttl: 0s, default_max_tokens: 0}\nlink: {envelope_window: 5m, expiry_warning: 0s}\n",
		"quota: {lease_ttl: 720h, default_max_tokens: 1099511627776}\n",
		"routing: {max_attempts: 1, failover_deadline: 0s, staleness: 1ms, queue: {max: -1, timeout: 0s}}\n",
	}
	for _, extra := range accepted {
		cfg, err := topology.Parse([]byte(base+extra), "t.yaml")
		if err != nil {
			t.Errorf("Parse(%q) = %v, want nil", extra, err)
			continue
		}
		if err := adapters(cfg); err != nil {
			t.Errorf("topology accepts %q but serve's validators refuse it: %v", extra, err)
		}
	}
	refused := []string{
		"audit: {fsync_interval: -100ms}\n", "audit: {queue_size: -5}\n", "audit: {rotate_bytes: -1}\n",
		"audit: {digest_interval: -1s}\n", "audit: {rotate_interval: -1s}\n", "quota: {lease_ttl: -1m}\n",
		"quota: {default_max_tokens: -1}\n", "quota: {lease_ttl: 721h}\n", "quota: {default_max_tokens: 1099511627777}\n", "link: {envelope_window: -1s}\n", "link: {expiry_warning: -1s}\n",
		"routing: {failover_deadline: -5s}\n", "routing: {staleness: -1s}\n", "routing: {queue: {timeout: -2s}}\n",
	}
	for _, extra := range refused {
		if _, err := topology.Parse([]byte(base+extra), "t.yaml"); err == nil {
			t.Errorf("serve refuses %q but the topology accepts it", extra)
		}
	}
}
