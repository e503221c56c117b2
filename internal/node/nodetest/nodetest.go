// Package nodetest starts real Meridian nodes for tests of other packages
// (front ends, backends, the console) and drains them when the test ends.
package nodetest

import (
	"context"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/node"
)

// Start builds and starts a node, failing the test on any error, and shuts
// it down (draining for at most 10 s) when the test ends.
func Start(t testing.TB, opts node.Options) *node.Node {
	t.Helper()
	n, err := node.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n.Shutdown(ctx)
	})
	return n
}
