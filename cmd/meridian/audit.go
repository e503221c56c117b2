package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func init() {
	register("audit", "verify, query, export and sign the tamper-evident audit trail (verify | query | export | keygen)", runAudit)
}

func runAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError("audit needs a subcommand: verify DIR | query DIR | export DIR --format cloudtrail | keygen --out DIR")
	}
	if isHelp(args[0]) {
		fmt.Fprintln(stdout, "usage: meridian audit verify DIR | query DIR | export DIR --format cloudtrail | keygen --out DIR (meridian audit SUBCOMMAND -h for its flags)")
		return errHelpShown
	}
	switch args[0] {
	case "verify":
		return runAuditVerify(args[1:], stdout, stderr)
	case "query":
		return runAuditQuery(args[1:], time.Now(), stdout, stderr)
	case "export":
		return runAuditExport(args[1:], stdout, stderr)
	case "keygen":
		return runAuditKeygen(args[1:], stdout, stderr)
	}
	return usageError("unknown audit subcommand %q (want verify, query, export or keygen)", args[0])
}

// parseWithDir parses flags that may come before or after the one DIR
// argument.
func parseWithDir(fs *flag.FlagSet, args []string) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", usageError("%v", err)
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return "", usageError("%s needs exactly one DIR argument, got %d", fs.Name(), len(pos))
	}
	return pos[0], nil
}

func runAuditVerify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var pubFiles []string
	fs.Func("public-key", "the node's audit public key (PEM or base64); repeat it for a log whose key was rotated; default: audit-key.pub in DIR or its parent",
		func(v string) error { pubFiles = append(pubFiles, v); return nil })
	allowUnsealed := fs.Bool("allow-unsealed", false, "accept events after the newest digest (a running node's newest events), which only the hash chain protects: without it they make the trail UNVERIFIED (exit 1)")
	rc := receiptCheck{}
	rc.flags(fs)
	dir, err := parseWithDir(fs, args)
	if err != nil {
		return err
	}
	if err := rc.load(stderr); err != nil {
		return err
	}
	dirs, err := audit.LogDirs(dir)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usageError("%s holds no audit log (no audit-*.jsonl or digest-*.json files here or in its subdirectories)", dir)
	}
	var given []ed25519.PublicKey
	for _, f := range pubFiles {
		k, err := audit.ReadPublicKey(f)
		if err != nil {
			return usageError("%v", err)
		}
		given = append(given, k)
	}
	failed := false
	for _, d := range dirs {
		keys := given
		beside := "" // the key file found beside the log, when none was given
		if len(keys) == 0 {
			path, found := findPublicKey(d, dir)
			if !found {
				return usageError("no public key for %s: pass --public-key FILE (the key the node's operator gave you)", d)
			}
			key, err := audit.ReadPublicKey(path)
			if err != nil {
				return usageError("%v", err)
			}
			keys, beside = []ed25519.PublicKey{key}, path
			fmt.Fprintf(stderr, "note: using %s found beside the log; for an independent check pass --public-key with the key you were given\n", path)
		}
		rep, err := audit.Verify(d, keys...)
		var te *audit.TamperError
		var ke *audit.KeyError
		switch {
		case errors.As(err, &te):
			failed = true
			fmt.Fprintf(stdout, "%s: TAMPERED: %s\n", d, te)
			fmt.Fprintf(stdout, "  checked before the break: %s in %s, %s\n", plural(rep.Events, "event"), plural(int64(rep.Files), "file"), plural(int64(rep.Digests), "digest"))
		case errors.As(err, &ke):
			// Not intact: those digests' signatures could not be checked,
			// and a writer of the log without the private key could have
			// named a key of its own. A failure (exit 1) as tampering is,
			// with its own word, until every key the trail used is given.
			failed = true
			fmt.Fprintf(stdout, "%s: UNVERIFIED: %s (pass --public-key for each key the trail used; a key id the operator cannot account for: treat the trail as tampered; docs/audit.md, Key rotation)\n", d, ke)
			fmt.Fprintf(stdout, "  checked otherwise: %s in %s, %s\n", plural(rep.Events, "event"), plural(int64(rep.Files), "file"), plural(int64(rep.Digests), "digest"))
			if !rep.Complete() {
				fmt.Fprintf(stdout, "  INCOMPLETE: the trail records requests whose events were lost\n")
			}
		case err != nil:
			return fmt.Errorf("verify %s: %w", d, err)
		default:
			span := "no events"
			if rep.Events > 0 {
				span = rep.First.UTC().Format(time.RFC3339) + " .. " + rep.Last.UTC().Format(time.RFC3339)
			}
			ids := make([]string, len(keys))
			for i, k := range keys {
				ids[i] = audit.KeyID(k)
			}
			// A gap that lost events is no tampering, but the trail is not
			// complete: say so, and fail, so that no script reads it as intact.
			status := "intact"
			// Events after the newest digest are chained but not signed:
			// whoever can write the log can rewrite them and delete the
			// newest digest, and nothing here would tell. Not proven, so
			// not intact, unless the caller accepts an unsealed tail.
			if rep.Unsealed > 0 && !*allowUnsealed {
				status, failed = "UNVERIFIED", true
			}
			if !rep.Complete() {
				status, failed = "INCOMPLETE", true
			}
			keyNote := ""
			if beside != "" {
				keyNote = " found beside the log (" + beside + "): it proves nothing to whoever doubts that directory; pass --public-key with the key the operator gave you"
			}
			fmt.Fprintf(stdout, "%s: %s: region %s, %s in %s, %s, %s, signatures checked with key %s%s\n",
				d, status, rep.Region, plural(rep.Events, "event"), plural(int64(rep.Files), "file"), plural(int64(rep.Digests), "digest"), span, strings.Join(ids, ", "), keyNote)
			if rep.Unsealed > 0 {
				accepted := "not proven: pass --allow-unsealed to accept them (a running node's newest events), or verify again after the node's next digest"
				if *allowUnsealed {
					accepted = "accepted (--allow-unsealed): protected by the hash chain only"
				}
				fmt.Fprintf(stdout, "  unsealed: %s from %s on come after the newest digest, and no signature covers them: whoever can write the log could rewrite them and delete that digest undetected; %s\n",
					plural(rep.Unsealed, "event"), rep.UnsealedFrom, accepted)
			}
			if !rc.check(d, rep.Region, keys, stdout) {
				failed = true
			}
		}
		for _, g := range rep.Gaps {
			fmt.Fprintf(stdout, "  gap: %s\n", g)
		}
		for _, w := range rep.Warnings {
			fmt.Fprintf(stdout, "  warning: %s\n", w)
		}
	}
	if !rc.done(stdout) {
		failed = true
	}
	if failed {
		return errSilentFailure
	}
	return nil
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// findPublicKey looks for audit-key.pub beside the log: in the region
// directory, in audit.dir above it (the default key_file place), or in the
// directory the user named.
func findPublicKey(regionDir, top string) (string, bool) {
	for _, d := range []string{regionDir, filepath.Dir(regionDir), top, filepath.Dir(top)} {
		p := filepath.Join(d, audit.DefaultKeyName+".pub")
		if _, err := os.Stat(p); err == nil {
			return p, true
		}
	}
	return "", false
}

// runAuditQuery runs audit query; now is what a relative --since or
// --until ("1h": an hour before now) counts back from.
func runAuditQuery(args []string, now time.Time, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit query", flag.ContinueOnError)
	fs.SetOutput(stderr)
	since := fs.String("since", "", "events at or after this time (RFC 3339, 2006-01-02 or 2006-01; UTC), or a duration before now (1h, 30m, 2d)")
	until := fs.String("until", "", "events before this time")
	var f audit.Filter
	fs.StringVar(&f.Principal, "principal", "", "principal id, API key id or access key id (pattern)")
	fs.StringVar(&f.SourceRegion, "source-region", "", "source regions: comma-separated patterns, !pattern excludes")
	fs.StringVar(&f.InferenceRegion, "inference-region", "", "inference regions: comma-separated patterns, !pattern excludes, none = nothing ran")
	fs.StringVar(&f.Profile, "profile", "", "inference profile id or ARN (pattern)")
	fs.StringVar(&f.Status, "status", "", "status codes or classes, e.g. 429 or 4xx,5xx or !200")
	side := fs.String("side", "", "source or destination")
	fs.StringVar(&f.EventID, "event-id", "", "event id = request id (pattern); finds both sides of a forwarded request")
	output := fs.String("output", "table", "table or jsonl")
	f.Metadata = map[string]string{}
	fs.Func("metadata", "KEY=VALUE: requestMetadata KEY matches VALUE (a pattern); repeat to require several",
		func(v string) error { return audit.ParseMetadataFilter(f.Metadata, v) })
	dir, err := parseWithDir(fs, args)
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range []struct {
		flag string
		in   string
		out  *time.Time
	}{{"since", *since, &f.Since}, {"until", *until, &f.Until}} {
		if t.in == "" {
			continue
		}
		v, err := audit.ParseTimeAt(t.in, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("--%s: %w", t.flag, err))
		}
		*t.out = v
	}
	f.Side = audit.Side(*side)
	if err := f.Validate(); err != nil {
		errs = append(errs, err)
	}
	p, err := audit.NewPrinter(stdout, *output)
	if err != nil {
		errs = append(errs, fmt.Errorf("--output: %w", err))
	}
	if len(errs) > 0 {
		return usageError("%v", strings.ReplaceAll(errors.Join(errs...).Error(), "\n", "; "))
	}
	if err := audit.Query(dir, f, p.Print); err != nil {
		return err
	}
	n, err := p.Flush()
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d events\n", n)
	return nil
}

func runAuditKeygen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit keygen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "", "directory to write audit-key (private, 0600) and audit-key.pub (public) to")
	if err := fs.Parse(args); err != nil {
		return usageError("%v", err)
	}
	if *out == "" || fs.NArg() > 0 {
		return usageError("audit keygen needs --out DIR and no other arguments")
	}
	priv, pub, err := audit.GenerateKey(*out)
	if err != nil {
		return err
	}
	k, err := audit.ReadPublicKey(pub)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "private key: %s (set audit.key_file to it; keep it off the log's disk if you can)\npublic key:  %s (give it to auditors: meridian audit verify DIR --public-key %s)\nkey id:      %s\n", priv, pub, filepath.Base(pub), audit.KeyID(k))
	return nil
}

// runAuditExport writes a verified trail as Bedrock-shaped CloudTrail
// records, for SIEM rules written against Amazon Bedrock.
func runAuditExport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "", "output format: cloudtrail (a CloudTrail log file, {\"Records\":[...]})")
	configPath := fs.String("config", "", "topology file: its account and partition name the records (recipientAccountId, userIdentity)")
	account := fs.String("account", "", "12-digit account id for the records, when --config is not given")
	unverified := fs.Bool("unverified", false, "export even if the trail does not verify (tampered or incomplete)")
	allowUnsealed := fs.Bool("allow-unsealed", false, "accept events after the newest digest (a running node's newest events), which only the hash chain protects: without it they refuse the export, as audit verify reports them UNVERIFIED")
	since := fs.String("since", "", "events at or after this time (RFC 3339, 2006-01-02 or 2006-01; UTC)")
	until := fs.String("until", "", "events before this time")
	var pubFiles []string
	fs.Func("public-key", "the node's audit public key (PEM or base64), repeatable; default: audit-key.pub in DIR or its parent",
		func(v string) error { pubFiles = append(pubFiles, v); return nil })
	dir, err := parseWithDir(fs, args)
	if err != nil {
		return err
	}
	if *format != "cloudtrail" {
		return usageError("audit export: --format %q: use cloudtrail", *format)
	}
	opts := audit.ExportOptions{Unverified: *unverified, AllowUnsealed: *allowUnsealed, Account: audit.CloudTrailAccount{Account: *account}}
	if *configPath != "" {
		cfg, err := topology.Load(*configPath)
		if err != nil {
			return err
		}
		opts.Account = audit.CloudTrailAccount{Partition: cfg.PartitionOrDefault(), Account: cfg.Account}
	}
	if opts.Account.Account == "" {
		return usageError("audit export: pass --config FILE or --account ID: records name the account (recipientAccountId)")
	}
	var f audit.Filter
	for _, t := range []struct {
		flag, in string
		out      *time.Time
	}{{"since", *since, &f.Since}, {"until", *until, &f.Until}} {
		if t.in == "" {
			continue
		}
		v, err := audit.ParseTime(t.in)
		if err != nil {
			return usageError("--%s: %v", t.flag, err)
		}
		*t.out = v
	}
	for _, p := range pubFiles {
		k, err := audit.ReadPublicKey(p)
		if err != nil {
			return usageError("%v", err)
		}
		opts.Keys = append(opts.Keys, k)
	}
	if len(opts.Keys) == 0 && !*unverified {
		path, found := findPublicKey(dir, dir)
		if !found {
			return usageError("no public key for %s: pass --public-key FILE (the key the node's operator gave you), or --unverified", dir)
		}
		k, err := audit.ReadPublicKey(path)
		if err != nil {
			return usageError("%v", err)
		}
		opts.Keys = append(opts.Keys, k)
		fmt.Fprintf(stderr, "note: verifying with %s found beside the log; for an independent check pass --public-key with the key you were given\n", path)
	}
	// ExportCloudTrail verifies every region before it writes a byte.
	n, err := audit.ExportCloudTrail(dir, f, stdout, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "%d records\n", n)
	return nil
}
