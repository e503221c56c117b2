package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func init() {
	register("profiles", "list inference profiles: meridian profiles list --config FILE [--region ID]", runProfiles)
}

type profileRow struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Model string `json:"model"`
	// Source is the source region of this row; Destinations are the
	// regions a call from it may be served in.
	Source       string            `json:"sourceRegion"`
	Sources      []string          `json:"sourceRegions"`
	Destinations []string          `json:"destinationRegions"`
	ARN          string            `json:"arn"`
	Tags         map[string]string `json:"tags,omitempty"`
}

func runProfiles(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		return usageError("usage: meridian profiles list --config FILE [--region ID] [--output table|json]")
	}
	fs := flag.NewFlagSet("profiles list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "topology file (required)")
	region := fs.String("region", "", "show only profiles callable from this source region, with their ARNs there")
	output := fs.String("output", "table", "table or json")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if *configPath == "" {
		return usageError("profiles list needs --config FILE")
	}
	if *output != "table" && *output != "json" {
		return usageError("--output %q: use table or json", *output)
	}
	cfg, err := topology.Load(*configPath)
	if err != nil {
		return err
	}
	if *region != "" {
		if _, ok := cfg.Region(*region); !ok {
			return usageError("--region %q is not in %s", *region, *configPath)
		}
	}
	cat, err := profile.New(cfg)
	if err != nil {
		return err
	}
	list := cat.All()
	arnRegion := "*"
	if *region != "" {
		list, arnRegion = cat.CallableFrom(*region), *region
	}
	rows := []profileRow{}
	for _, p := range list {
		// One row per source: a profile's destinations depend on where it
		// is called from.
		sources := p.Sources
		if *region != "" {
			sources = []string{*region}
		}
		for _, src := range sources {
			rows = append(rows, profileRow{ID: p.ID, Type: p.Type.String(), Model: p.Model, Source: src, Sources: p.Sources,
				Destinations: p.DestinationsFrom(src), ARN: p.ARN(cat.Partition(), arnRegion, cat.Account()), Tags: p.Tags})
		}
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTYPE\tSOURCE REGION\tDESTINATION REGIONS\tARN")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Type, r.Source, strings.Join(r.Destinations, ","), r.ARN)
	}
	tw.Flush()
	if *region == "" {
		fmt.Fprintln(stdout, "\nARNs name the source region; \"*\" stands for it. Use --region ID for one region's view.")
	}
	return nil
}
