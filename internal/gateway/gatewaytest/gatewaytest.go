// Package gatewaytest builds gateways for the tests of the packages around
// the gateway (its front ends): a real gateway, on a small topology, over
// a backend the test provides.
package gatewaytest

import (
	"fmt"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// OneRegion returns the gateway of eu-west-1, the one region of the EU
// geography, where model m (context window 8192) is served by b; principal
// p, allowed everything, authenticates with key. The profile eu.m reaches
// m. The deployment declares priority and flex (service_tiers), so a
// request's tier is the one it is served and reported in.
func OneRegion(t testing.TB, key string, b gateway.Backend) *gateway.Gateway {
	t.Helper()
	cfg, err := topology.Parse(fmt.Appendf(nil, `account: "111122223333"
geographies: { eu: { name: EU } }
regions: [ { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" } ]
models: [ { id: m, context_window: 8192 } ]
deployments: [ { model: m, region: eu-west-1, backend: { type: mock }, service_tiers: [priority, flex] } ]
principals: [ { id: p, api_keys: [%q] } ]
`, auth.HashKey(key)), "gatewaytest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Options{Region: "eu-west-1", Config: cfg, Authorizer: gateway.AllowAll{}, Backends: map[string]gateway.Backend{"m": b}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}
