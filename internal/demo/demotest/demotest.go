// Package demotest starts the demo for tests of other packages (the
// console's browser test, the load generator's test) on free loopback ports.
package demotest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/demo"
)

// Start runs the demo on a free range of loopback ports and stops it when
// the test ends. It retries when another process takes a port between the
// check and the bind.
func Start(t testing.TB, ctx context.Context) *demo.Demo {
	t.Helper()
	var last error
	for range 8 {
		d, err := demo.Start(ctx, demo.Options{BasePort: FreeBase(t), Dir: t.TempDir()})
		if err == nil {
			t.Cleanup(func() {
				sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				d.Stop(sctx)
			})
			return d
		}
		last = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	t.Fatalf("start demo: %v", last)
	return nil
}

// FreeBase returns a port p such that p..p+5 and p+1000..p+1005 were free.
// It picks below Linux's ephemeral range (32768+), where outgoing
// connections of other tests would take ports at random.
func FreeBase(t testing.TB) int {
	t.Helper()
	for range 200 {
		p := 20000 + rand.IntN(11000)
		if portsFree(p) {
			return p
		}
	}
	t.Fatal("no free port range for the demo")
	return 0
}

func portsFree(base int) bool {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	for i := range 6 {
		for _, p := range []int{base + i, base + 1000 + i} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				return false
			}
			lns = append(lns, l)
		}
	}
	return true
}
