package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/meridian-gateway/meridian/internal/demo"
)

func init() {
	register("demo", "run six regions in three geographies on localhost with simulated models", runDemo)
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	basePort := fs.Int("base-port", 8080, "client port of the first region; region i listens on base-port+i, its link on base-port+1000+i")
	apiKey := fs.String("api-key", "", "API key for the demo principal (generated when empty)")
	var lf logFlags
	lf.register(fs)
	lf.level = "warn"
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *basePort < 1 || *basePort+1005 > 65535 {
		return usageError("--base-port %d: need ports base..base+5 and base+1000..base+1005 below 65536", *basePort)
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	d, err := demo.Start(ctx, demo.Options{BasePort: *basePort, APIKey: *apiKey, Logger: log})
	if err != nil {
		return err
	}
	d.PrintIntro(stdout)
	fmt.Fprintf(stdout, "(ready in %v)\n", time.Since(start).Round(time.Millisecond))
	<-ctx.Done()
	fmt.Fprintln(stdout, "\nstopping: draining in-flight requests...")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := d.Stop(sctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}
