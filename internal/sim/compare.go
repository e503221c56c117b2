package sim

import (
	"context"
	"runtime"

	"golang.org/x/sync/errgroup"
)

// Compare runs sc under each strategy with the same seed, in parallel on up to
// GOMAXPROCS goroutines, and returns the results in the order given. Each run
// is independent and deterministic, so the report does not depend on
// scheduling. A zero seed means the scenario's. It stops with ctx's error
// when ctx ends (Ctrl-C in meridian sim).
func Compare(ctx context.Context, sc *Scenario, strategies []string, seed uint64) (*Report, error) {
	if seed == 0 {
		seed = max(sc.Seed, 1)
	}
	rep := &Report{Scenario: sc.Name, Seed: seed, Results: make([]*Result, len(strategies))}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, s := range strategies {
		g.Go(func() error {
			r, err := Run(ctx, sc, s, seed)
			rep.Results[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return rep, nil
}
