package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/bench"
)

// serveGatewayArg is the hidden first argument that makes bench the
// gateway process of another bench's --gateway-process.
const serveGatewayArg = "serve-gateway"

func init() {
	register("bench", "measure the latency and CPU Meridian adds on loopback, against a bare proxy", runBench)
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == serveGatewayArg {
		// The gateway process of --gateway-process: this binary
		// re-executed, its standard input and output the bench's control
		// channel (see bench.ServeGateway).
		if len(args) > 1 {
			return usageError("bench %s takes no arguments: the bench writes its configuration to its standard input", serveGatewayArg)
		}
		return bench.ServeGateway(ctx, os.Stdin, stdout)
	}
	var o bench.Options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.Step, "step", 0, "duration of each open-loop rate step (default 2s)")
	fs.IntVar(&o.Sequential, "sequential", 0, "one-at-a-time requests per scenario (default 2400)")
	fs.Float64Var(&o.StartRate, "start-rate", 0, "first rate of the sweep, requests/s (default 500)")
	fs.Float64Var(&o.MaxRate, "max-rate", 0, "highest rate the sweep tries, requests/s (default 20000)")
	fs.DurationVar(&o.MaxSweep, "max-sweep", 0, "time bound of each scenario's sweep (default 25s)")
	fs.IntVar(&o.Refine, "refine", 0, "bisection steps after the sweep (default 2; -1: none)")
	fs.Float64Var(&o.Rate, "rate", 0, "skip the sweep and compare every scenario at this rate")
	fs.DurationVar(&o.Timeout, "timeout", 0, "per-request timeout; a slower request is an error (default 2s)")
	fs.DurationVar(&o.SLO, "slo", 0, "p99 latency (time to first token for streams) a rate step must keep to count as sustained (default 50ms)")
	fs.IntVar(&o.MaxInFlight, "max-in-flight", 0, "outstanding requests per scenario before the generator drops (default 2048)")
	fs.IntVar(&o.MaxTokens, "max-tokens", 0, "tokens per completion (default 16)")
	mode := fs.String("mode", "both", "non-streaming, streaming or both")
	fs.IntVar(&o.Streams, "streams", 1000, "concurrent slow streams of the memory scenario, local then forwarded (0: skip)")
	concurrency := fs.String("concurrency", "1,32,256", "in-flight counts of the closed-loop sweep, comma-separated (none: skip)")
	fs.DurationVar(&o.ConcurrencyStep, "concurrency-step", 0, "how long each scenario runs at each in-flight count, in interleaved rounds (8 with the 4 built-in scenarios) (default: --step)")
	quick := fs.Bool("quick", false, "a smoke run of a few seconds (tiny steps, low rates, no memory scenario)")
	out := fs.String("out", "", "write the report as JSON to `file`")
	tracefile := fs.String("trace", "", "write a runtime execution trace of the load phases to `file` (go tool trace; where a request waits)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the load phases to `file` (see --scenario and --mode to profile one path)")
	mutexprofile := fs.String("mutexprofile", "", "write a mutex contention profile of the run to `file`")
	blockprofile := fs.String("blockprofile", "", "write a blocking profile of the run to `file`")
	logs := fs.String("logs", "", "write the nodes' JSON logs to `file` (default: formatted and discarded)")
	verbose := fs.Bool("v", false, "print each measurement as it finishes")
	gatewayProcess := fs.Bool("gateway-process", true, "run the bare proxy and the Meridian nodes in a process of their own (this binary re-executed), apart from the load generator, as a deployed gateway runs apart from its clients: CPU per request is then that process's CPU alone, --cpuprofile profiles it, and the 1,000 streams' memory is its own (=false: everything in the bench's process, as runs before it)")
	upstreamProcess := fs.Bool("upstream-process", false, "run the latency phases' mockllm in a process of its own (this binary's mockllm command), as a model server runs apart from its gateway, instead of in the bench's process (the 1,000 streams keep theirs in it)")
	var peers, peerHeaders, peerPIDs, without, scenarios stringList
	fs.Var(&scenarios, "scenario", "measure only these scenarios: direct, bare (bare-proxy), local (meridian-local), forwarded (meridian-forwarded) or a peer's name (comma-separated; with --cpuprofile, a profile of that path alone)")
	fs.Var(&without, "without", "turn Meridian features off to attribute their cost: quota, audit, logs (comma-separated)")
	fs.Var(&peers, "peer", "another gateway to measure, `name=http://127.0.0.1:port` (repeatable; see bench/peers)")
	fs.Var(&peerPIDs, "peer-pid", "a peer's process, `name=PID`, whose CPU time counts in its column")
	fs.Var(&peerHeaders, "peer-header", "a header for a peer, `name:Header: value` ({upstream} is replaced by mockllm's URL)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meridian bench [--quick] [--out FILE] [flags]")
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "Starts a zero-think-time mockllm, a bare reverse proxy and two Meridian nodes on")
		fmt.Fprintln(stderr, "127.0.0.1 and measures direct, bare-proxy, meridian-local and meridian-forwarded")
		fmt.Fprintln(stderr, "on identical requests: sequential latency, an open-loop rate sweep, a closed-loop")
		fmt.Fprintln(stderr, "concurrency sweep and 1,000 concurrent streams (local, then forwarded), with the")
		fmt.Fprintln(stderr, "project's targets as ratios to the bare proxy, taken per interleaved round and")
		fmt.Fprintln(stderr, "judged met, missed or unsettled (rounds on both sides of a target). Load goes to")
		fmt.Fprintln(stderr, "loopback only and every run is bounded. The proxy and the nodes run in a process")
		fmt.Fprintln(stderr, "of their own (this binary, re-executed), whose CPU is what the report charges them.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errSilentSuccess
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("bench: unexpected argument %q", fs.Arg(0))
	}
	switch *mode {
	case "both":
	case "non-streaming", "streaming":
		o.Modes = []string{*mode}
	default:
		return usageError("bench: --mode %q: use non-streaming, streaming or both", *mode)
	}
	o.Without = without
	o.Scenarios = scenarios
	if *upstreamProcess {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: --upstream-process: find this binary: %w", err)
		}
		o.UpstreamProcess = []string{exe, "mockllm"}
	}
	if *gatewayProcess {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench: --gateway-process: find this binary: %w", err)
		}
		o.GatewayProcess = []string{exe, "bench", serveGatewayArg}
	}
	c, err := bench.ParseConcurrency(*concurrency)
	if err != nil {
		return usageError("bench: --concurrency: %v", err)
	}
	o.Concurrency = c
	if *quick {
		o.Step, o.Sequential, o.StartRate, o.MaxRate, o.Refine = 300e6, 50, 100, 400, -1
		o.Streams = 0
	}
	headers := map[string]http.Header{}
	for _, ph := range peerHeaders {
		name, kv, ok := strings.Cut(ph, ":")
		k, v, ok2 := strings.Cut(kv, ":")
		if !ok || !ok2 {
			return usageError("bench: --peer-header %q: use name:Header: value", ph)
		}
		if headers[name] == nil {
			headers[name] = http.Header{}
		}
		headers[name].Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	pids := map[string]int{}
	for _, pp := range peerPIDs {
		name, v, _ := strings.Cut(pp, "=")
		pid, err := strconv.Atoi(v)
		if err != nil || pid <= 0 {
			return usageError("bench: --peer-pid %q: use name=PID", pp)
		}
		pids[name] = pid
	}
	for _, p := range peers {
		name, base, ok := strings.Cut(p, "=")
		if !ok {
			return usageError("bench: --peer %q: use name=http://127.0.0.1:port", p)
		}
		peer, err := bench.ExternalPeer(name, base, headers[name], pids[name])
		if err != nil {
			return usageError("bench: %v", err)
		}
		o.Peers = append(o.Peers, peer)
	}
	if err := o.Validate(); err != nil {
		return usageError("bench: %v", err)
	}
	if *verbose {
		o.Progress = stderr
	}
	if *logs != "" {
		f, err := os.Create(*logs)
		if err != nil {
			return err
		}
		defer f.Close()
		o.Logs = f
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.CPUProfile = f
	}
	if *tracefile != "" {
		f, err := os.Create(*tracefile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.Trace = f
	}
	for _, p := range []struct {
		file, name string
		rate       func(on bool)
	}{
		{*mutexprofile, "mutex", func(on bool) { runtime.SetMutexProfileFraction(map[bool]int{true: 5}[on]) }},
		{*blockprofile, "block", func(on bool) { runtime.SetBlockProfileRate(map[bool]int{true: 10000}[on]) }},
	} {
		if p.file == "" {
			continue
		}
		f, err := os.Create(p.file)
		if err != nil {
			return err
		}
		p.rate(true)
		defer func() {
			pprof.Lookup(p.name).WriteTo(f, 0)
			p.rate(false)
			f.Close()
		}()
	}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := rep.WriteTable(stdout); err != nil {
		return err
	}
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		if err := rep.WriteJSON(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	return nil
}
