package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
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
	load := fs.Bool("load", false, "run the built-in load generator: a bounded mix of profiles from several source regions")
	loadRate := fs.Float64("load-rate", 5, "requests per second of --load (at most 16 in flight)")
	var lf logFlags
	lf.register(fs)
	lf.level = "warn"
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *loadRate <= 0 || *loadRate > 100 {
		return usageError("--load-rate %v: want a rate above 0 and at most 100 requests per second", *loadRate)
	}
	if *basePort < 1 || *basePort+1005 > 65535 {
		return usageError("--base-port %d: need ports base..base+5 and base+1000..base+1005 below 65536", *basePort)
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	d, err := demo.Start(ctx, demo.Options{BasePort: *basePort, APIKey: *apiKey, Logger: log, Clock: clock.Wall})
	if err != nil {
		return err
	}
	d.PrintIntro(stdout)
	fmt.Fprintf(stdout, "\nConsole: http://%s/ui/ (sign in with the API key above; every region serves it)\n", d.Node("eu-west-1").ClientAddr())
	var loadDone chan struct{}
	if *load {
		fmt.Fprintf(stdout, "Load: %.3g requests/s of eu., us., apac., global. and claims-eu profiles from six source regions.\n", *loadRate)
		loadDone = make(chan struct{})
		go func() {
			defer close(loadDone)
			d.Load(ctx, demo.LoadOptions{Rate: *loadRate, Logger: log})
		}()
	}
	fmt.Fprintf(stdout, "(ready in %v)\n", time.Since(start).Round(time.Millisecond))
	<-ctx.Done()
	if loadDone != nil {
		<-loadDone
	}
	fmt.Fprintln(stdout, "\nstopping: draining in-flight requests...")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := d.Stop(sctx); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "stopped")
	return nil
}
