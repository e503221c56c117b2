package main

import (
	"context"
	"errors"
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
	cfg, err := topology.Load(args[1])
	if err == nil && !skipFiles {
		if problems := node.CheckFiles(cfg); len(problems) > 0 {
			err = &topology.ValidationError{Problems: problems}
		}
	}
	var ve *topology.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Fprintln(stderr, p.Error())
		}
		fmt.Fprintf(stderr, "%d problem(s) in %s\n", len(ve.Problems), args[1])
		return errSilentFailure
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is valid: %d geographies, %d regions, %d models, %d deployments, %d principals\n",
		args[1], len(cfg.Geographies), len(cfg.Regions), len(cfg.Models), len(cfg.Deployments), len(cfg.Principals))
	return nil
}
