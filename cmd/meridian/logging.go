package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// logFlags are the logging flags shared by long-running verbs.
type logFlags struct {
	format string
	level  string
}

func (l *logFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.format, "log-format", "text", "log format: text or json")
	fs.StringVar(&l.level, "log-level", "info", "log level: debug, info, warn or error")
}

func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(strings.ToUpper(l.level))); err != nil {
		return nil, usageError("--log-level %q: use debug, info, warn or error", l.level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	// UniqueKeys: a component that adds a key its parent logger set (the
	// audit writer's component and region) must not write it twice.
	switch l.format {
	case "text":
		return slog.New(telemetry.UniqueKeys(slog.NewTextHandler(w, opts))), nil
	case "json":
		return slog.New(telemetry.UniqueKeys(slog.NewJSONHandler(w, opts))), nil
	}
	return nil, usageError("--log-format %q: use text or json", l.format)
}

// parseFlags parses a verb's flags, turning flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return errHelpShown
		}
		return usageError("%v", err)
	}
	if fs.NArg() > 0 {
		return usageError("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// stringList is a repeatable flag that also splits on commas.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// errHelpShown ends a verb after -h printed its flags.
var errHelpShown = fmt.Errorf("%w", errSilentSuccess)
