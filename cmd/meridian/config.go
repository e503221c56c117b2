package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func init() {
	register("config", "check a topology file: meridian config validate FILE", runConfig)
}

func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (isHelp(args[0]) || len(args) > 1 && isHelp(args[1])) {
		fmt.Fprintln(stdout, "usage: meridian config validate [--skip-files] FILE\n\nChecks the topology, then loads the link and client-TLS files it names as each\nregion's node would (--skip-files: the topology alone, e.g. on a build machine\nwithout the certificates).")
		return errHelpShown
	}
	skipFiles := len(args) == 3 && args[1] == "--skip-files"
	if skipFiles {
		args = []string{args[0], args[2]}
	}
	if len(args) != 2 || args[0] != "validate" {
		return usageError("meridian config validate [--skip-files] FILE")
	}
	// Every problem in one run: the files the topology names are loaded
	// even when the topology has problems of its own.
	cfg, problems, err := topology.LoadChecked(args[1])
	if err != nil {
		return err
	}
	if cfg != nil && !skipFiles {
		problems = cfg.MergeProblems(problems, node.CheckFiles(cfg))
	}
	// Notes (e.g. a policy action Meridian never authorizes) do not fail
	// the file: they are printed with the problems, in line order, or
	// before the summary of a valid file.
	var notes []*topology.ConfigError
	if cfg != nil {
		notes = cfg.Notes()
	}
	if len(problems) > 0 {
		all := append(slices.Clip(problems), notes...)
		slices.SortStableFunc(all, func(a, b *topology.ConfigError) int { return cmp.Compare(lineKey(a), lineKey(b)) })
		for _, p := range all {
			fmt.Fprintln(stderr, p.Error())
		}
		fmt.Fprintf(stderr, "%d problem(s) in %s\n", len(problems), args[1])
		return errSilentFailure
	}
	for _, n := range notes {
		fmt.Fprintln(stdout, n.Error())
	}
	fmt.Fprintf(stdout, "%s is valid: %d geographies, %d regions, %d models, %d deployments, %d principals",
		args[1], len(cfg.Geographies), len(cfg.Regions), len(cfg.Models), len(cfg.Deployments), len(cfg.Principals))
	if len(notes) > 0 {
		fmt.Fprintf(stdout, " (%d note(s))", len(notes))
	}
	fmt.Fprintln(stdout)
	return nil
}

// lineKey orders problems and notes by line; those without one come last.
func lineKey(p *topology.ConfigError) int {
	if p.Line == 0 {
		return math.MaxInt
	}
	return p.Line
}
