package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/meridian-gateway/meridian/internal/sim"
)

func init() {
	register("sim", "compare routing strategies on a simulated scenario", runSim)
}

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenario := fs.String("scenario", "", "scenario `file` (YAML; see scenarios/)")
	strategies := fs.String("strategies", strings.Join(sim.Strategies(), ","), "comma-separated `list` of strategies to compare")
	seed := fs.Uint64("seed", 0, "random seed (0: the scenario's)")
	output := fs.String("output", "table", "output `format`: table, csv or json")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meridian sim --scenario FILE [--strategies a,b,...] [--seed N] [--output table|csv|json]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Meridian's strategies:", "locality-first, least-loaded, latency, weighted")
		fmt.Fprintln(stderr, "Baselines:", "in-region-only, round-robin, random, oracle")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError("%v", err)
	}
	if *scenario == "" {
		return usageError("sim: --scenario is required")
	}
	var names []string
	for _, s := range strings.Split(*strategies, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(sim.Strategies(), s) {
			return usageError("sim: unknown strategy %q (known: %s)", s, strings.Join(sim.Strategies(), ", "))
		}
		names = append(names, s)
	}
	format := sim.Format(*output)
	if !slices.Contains([]sim.Format{sim.Table, sim.CSV, sim.JSON}, format) {
		return usageError("sim: unknown output format %q (use table, csv or json)", *output)
	}
	f, err := os.Open(*scenario)
	if err != nil {
		return fmt.Errorf("open scenario: %w", err)
	}
	defer f.Close()
	sc, err := sim.ParseScenario(f, *scenario)
	if err != nil {
		return err
	}
	rep, err := sim.Compare(ctx, sc, names, *seed)
	if err != nil {
		return err
	}
	return sim.Write(stdout, rep, format)
}
