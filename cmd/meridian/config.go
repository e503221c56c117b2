package main

import (
	"context"
	"fmt"
	"io"

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
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(stderr, p.Error())
		}
		fmt.Fprintf(stderr, "%d problem(s) in %s\n", len(problems), args[1])
		return errSilentFailure
	}
	fmt.Fprintf(stdout, "%s is valid: %d geographies, %d regions, %d models, %d deployments, %d principals\n",
		args[1], len(cfg.Geographies), len(cfg.Regions), len(cfg.Models), len(cfg.Deployments), len(cfg.Principals))
	return nil
}
