package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

func init() {
	register("mockllm", "run a simulated OpenAI-compatible model server", runMockLLM)
}

func runMockLLM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := mockllm.Default()
	fs := flag.NewFlagSet("mockllm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:7100", "`address` to listen on (host:port; port 0 picks one), or fd:N to serve a listening socket inherited as file descriptor N")
	fs.DurationVar(&cfg.TTFT, "ttft", cfg.TTFT, "time to first token (0: none)")
	fs.Float64Var(&cfg.TokensPerSecond, "tokens-per-second", cfg.TokensPerSecond, "content tokens per second after the first (0: unpaced)")
	fs.IntVar(&cfg.CompletionTokens, "completion-tokens", 0, "tokens per completion unless max_tokens or a stop sequence cuts it (0: 16 to 64, drawn from the seed)")
	fs.IntVar(&cfg.MaxConcurrency, "max-concurrency", 0, "requests served at once; more get 429 (0: unlimited)")
	fs.IntVar(&cfg.RPM, "rpm", 0, "requests per sliding minute; more get 429 (0: unlimited)")
	fs.IntVar(&cfg.TPM, "tpm", 0, "tokens per sliding minute; more get 429 (0: unlimited)")
	fs.Float64Var(&cfg.FailRate, "fail-rate", 0, "probability in [0,1] that a request fails with --fail-status")
	fs.IntVar(&cfg.FailStatus, "fail-status", cfg.FailStatus, "HTTP status of injected failures")
	fs.IntVar(&cfg.AbortAfterTokens, "abort-after-tokens", 0, "abort the connection after this many tokens of every longer completion (0: never)")
	fs.Int64Var(&cfg.Seed, "seed", 0, "seed for completions and injected failures")
	models := stringList{}
	fs.Var(&models, "model", "model `id` to serve; repeat or separate with commas (default: accept any)")
	keyEnv := fs.String("api-key-env", "", "require the API key held by this environment `variable` (default: accept any key)")
	logLevel := fs.String("log-level", "info", "log level: debug (one line per request), info, warn or error")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: meridian mockllm [--listen ADDR] [flags]")
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, mockllm.Endpoints)
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return nil
		}
		return usageError("mockllm: %v", err)
	}
	if fs.NArg() > 0 {
		return usageError("mockllm: unexpected arguments %q", fs.Args())
	}
	cfg.Models = models
	if *keyEnv != "" {
		cfg.APIKey = os.Getenv(*keyEnv)
		if cfg.APIKey == "" {
			return usageError("mockllm: --api-key-env: environment variable %s is empty or unset", *keyEnv)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usageError("mockllm: --log-level: %q is not one of debug, info, warn, error", *logLevel)
	}
	if err := cfg.Validate(); err != nil {
		return usageError("%v", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("component", "mockllm")
	cfg.Logger = log

	ln, err := listenOn(ctx, *listen)
	if err != nil {
		return err
	}
	log.Info("mockllm listening", "addr", ln.Addr().String(), "models", cfg.Models,
		"ttft", cfg.TTFT, "tokens_per_second", cfg.TokensPerSecond, "max_concurrency", cfg.MaxConcurrency,
		"rpm", cfg.RPM, "tpm", cfg.TPM, "fail_rate", cfg.FailRate, "fail_status", cfg.FailStatus,
		"abort_after_tokens", cfg.AbortAfterTokens, "seed", cfg.Seed)
	err = mockllm.New(cfg).Serve(ctx, ln)
	if err == nil {
		log.Info("mockllm stopped")
	}
	return err
}

// listenOn listens on address, or, for "fd:N", serves the listening socket
// this process inherited as file descriptor N: meridian bench
// --upstream-process hands its upstream a socket it already listens on, so
// that the address is known before the process starts and a request sent
// while it starts waits in the socket's backlog.
func listenOn(ctx context.Context, address string) (net.Listener, error) {
	s, ok := strings.CutPrefix(address, "fd:")
	if !ok {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", address)
		if err != nil {
			return nil, fmt.Errorf("listen on %s: %w", address, err)
		}
		return ln, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 3 {
		return nil, usageError("mockllm: --listen %q: fd:N takes an inherited file descriptor, 3 or above", address)
	}
	f := os.NewFile(uintptr(n), "listener")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("mockllm: --listen %s: not a listening socket: %w", address, err)
	}
	return ln, nil
}
