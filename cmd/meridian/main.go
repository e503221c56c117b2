// Command meridian is the Meridian cross-region LLM inference gateway.
//
// main wires signals and exit codes only; every verb lives in its own file
// (serve.go, demo.go, mockllm.go, ...) and registers itself in [verbs].
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// verb is one `meridian <verb>` command.
type verb struct {
	// summary is the one-line description shown by `meridian help`.
	summary string
	// run executes the verb with the arguments that follow its name.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// verbs holds every command; each verb's file adds itself in an init function.
var verbs = map[string]verb{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	if _, dup := verbs[name]; dup {
		panic("meridian: verb registered twice: " + name)
	}
	verbs[name] = verb{summary: summary, run: run}
}

// errUsage marks an error caused by bad command-line input; main exits 2 for it.
var errUsage = errors.New("usage")

// usageError wraps a message about bad command-line input.
func usageError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

func main() {
	ctx, stop := notifySignals(context.Background())
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, errSilentSuccess):
	case errors.Is(err, errSilentFailure):
		os.Exit(1)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "meridian:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "meridian:", err)
		os.Exit(1)
	}
}

// errSilentSuccess ends a verb successfully without printing (after -h).
var errSilentSuccess = errors.New("done")

// errSilentFailure makes main exit 1 without printing: the verb already
// printed what went wrong (for example `config validate`).
var errSilentFailure = errors.New("failed")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(stdout)
		return nil
	}
	v, ok := verbs[args[0]]
	if !ok {
		return usageError("unknown command %q (run `meridian help` for the list)", args[0])
	}
	return v.run(ctx, args[1:], stdout, stderr)
}

func printHelp(w io.Writer) {
	fmt.Fprintln(w, "meridian: a cross-region LLM inference gateway")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: meridian <command> [flags]")
	fmt.Fprintln(w)
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	width := 0
	for _, n := range names {
		width = max(width, len(n))
	}
	for _, n := range names {
		fmt.Fprintf(w, "  %s%s  %s\n", n, strings.Repeat(" ", width-len(n)), verbs[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `meridian <command> -h` for a command's flags.")
}
