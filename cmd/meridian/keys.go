package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/meridian-gateway/meridian/internal/auth"
)

func init() {
	register("keys", "create API keys and the hashes that topology files store", runKeys)
}

const keysUsage = "usage: meridian keys new | meridian keys hash [KEY] (without KEY, the key is read from standard input)"

func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("keys needs a subcommand: new | hash")
	}
	if isHelp(args[0]) || args[0] == "hash" && len(args) > 1 && isHelp(args[1]) {
		fmt.Fprintln(stdout, keysUsage)
		return errHelpShown
	}
	switch args[0] {
	case "new":
		fs := flag.NewFlagSet("keys new", flag.ContinueOnError)
		fs.SetOutput(stderr)
		if err := fs.Parse(args[1:]); err != nil {
			return usageError("%v", err)
		}
		key, err := auth.NewKey()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "key:  %s\nhash: %s\n\nGive the key to the caller; put only the hash in the topology file:\n  principals:\n    - id: my-service\n      api_keys: [\"%s\"]\n", key, auth.HashKey(key), auth.HashKey(key))
		return nil
	case "hash":
		key := ""
		if len(args) > 1 {
			key = args[1]
		} else {
			// Reading the key from stdin keeps it out of shell history.
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && line == "" {
				return usageError("keys hash: give the key as an argument or on standard input")
			}
			key = strings.TrimSpace(line)
		}
		fmt.Fprintln(stdout, auth.HashKey(key))
		return nil
	}
	return usageError("unknown keys subcommand %q (want new or hash)", args[0])
}

// isHelp reports whether arg asks for help rather than naming an operand.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}
