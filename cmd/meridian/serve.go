package main

import (
	"context"
	"flag"
	"io"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func init() {
	register("serve", "run the node of one region", runServe)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "topology file (required); SIGHUP reloads it")
	region := fs.String("region", "", "region this node serves (required)")
	listen := fs.String("listen", "", "override the region's client listen address (replicas of one region)")
	link := fs.String("link", "", "override the region's link listen address (replicas of one region)")
	opsListen := fs.String("ops-listen", "", "override server.ops_listen, the unauthenticated /metrics and probe listener (e.g. 0.0.0.0:9090 in a pod)")
	auditDir := fs.String("audit-dir", "", "override audit.dir (each replica of a region needs its own)")
	dataDir := fs.String("data-dir", "", "override server.data_dir, where the node keeps its state such as API-created application profiles (each replica of a region needs its own)")
	dev := fs.Bool("dev", false, "allow development-only settings such as link.insecure_dev_link")
	var lf logFlags
	lf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *configPath == "" || *region == "" {
		return usageError("serve needs --config FILE and --region ID")
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	cfg, err := topology.Load(*configPath)
	if err != nil {
		// A node never starts with a config that fails validation.
		return err
	}
	n, err := node.New(node.Options{Config: cfg, Region: *region, Listen: *listen, Link: *link, OpsListen: *opsListen, AuditDir: *auditDir, DataDir: *dataDir, Dev: *dev, Logger: log, Clock: clock.Wall})
	if err != nil {
		return err
	}
	reloads := reloadRequests(ctx)
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-reloads:
				// Reload logs and counts the outcome itself; the running
				// topology is kept on any problem.
				_ = n.ReloadFile(*configPath)
			}
		}
	}()
	return n.Run(ctx)
}
