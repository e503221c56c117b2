package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/meridian-gateway/meridian/internal/pki"
)

func init() {
	register("certs", "create the link CA, issue and inspect node certificates", runCerts)
}

func runCerts(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() {
		fmt.Fprintln(stderr, "Usage:")
		fmt.Fprintln(stderr, "  meridian certs init --dir DIR [--trust-domain NAME] [--valid-for 3650d] [--max-path-len 0]")
		fmt.Fprintln(stderr, "  meridian certs issue --dir DIR --region ID [--dns NAME ...] [--ip IP ...] [--valid-for 90d]")
		fmt.Fprintln(stderr, "  meridian certs inspect FILE")
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return usageError("certs: missing subcommand (init, issue or inspect)")
		}
		return nil
	}
	switch args[0] {
	case "init":
		return runCertsInit(args[1:], stdout, stderr)
	case "issue":
		return runCertsIssue(args[1:], stdout, stderr)
	case "inspect":
		return runCertsInspect(args[1:], stdout, stderr)
	default:
		usage()
		return usageError("certs: unknown subcommand %q (init, issue or inspect)", args[0])
	}
}

// lifetimeFlag is a --valid-for value: "90d" or a Go duration.
type lifetimeFlag struct{ d time.Duration }

func (f *lifetimeFlag) String() string {
	if f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f *lifetimeFlag) Set(v string) (err error) {
	f.d, err = pki.ParseLifetime(v)
	return err
}

func parseCertsFlags(fs *flag.FlagSet, args []string) (done bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return true, usageError("%s: %v", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return true, usageError("%s: unexpected arguments %q", fs.Name(), fs.Args())
	}
	return false, nil
}

func runCertsInit(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "`directory` for ca.crt and ca.key (created, mode 0700)")
	td := fs.String("trust-domain", pki.DefaultTrustDomain, "trust `domain` of every node identity (link.trust_domain)")
	var life lifetimeFlag
	fs.Var(&life, "valid-for", "CA lifetime, e.g. 3650d or 87600h (default 3650d)")
	pathLen := fs.Int("max-path-len", 0, "how many intermediate CAs may stand between this CA and a node certificate (0: none; set 1 to issue an intermediate with another tool, see docs/security.md)")
	if done, err := parseCertsFlags(fs, args); done {
		return err
	}
	if *dir == "" {
		return usageError("certs init: --dir is required")
	}
	if *pathLen < 0 || *pathLen > 8 {
		return usageError("certs init: --max-path-len %d is outside 0..8", *pathLen)
	}
	ca, err := pki.InitDir(*dir, pki.CAOptions{TrustDomain: *td, ValidFor: life.d, MaxPathLen: *pathLen})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created CA for trust domain %q, valid until %s\n", ca.TrustDomain(), ca.Cert.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(stdout, "  %s\n  %s (private: keep it off the nodes)\n", filepath.Join(*dir, pki.CACertFile), filepath.Join(*dir, pki.CAKeyFile))
	fmt.Fprintf(stdout, "next: meridian certs issue --dir %s --region REGION\n", *dir)
	return nil
}

func runCertsIssue(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "`directory` holding the CA (from certs init); the certificate is written there as REGION.crt and REGION.key")
	region := fs.String("region", "", "region `id` the certificate speaks for")
	var dns, ips stringList
	fs.Var(&dns, "dns", "extra DNS `name` for the certificate; repeat or separate with commas (localhost is always included)")
	fs.Var(&ips, "ip", "extra IP `address`; repeat or separate with commas (127.0.0.1 and ::1 are always included)")
	var life lifetimeFlag
	fs.Var(&life, "valid-for", "certificate lifetime, e.g. 90d or 2160h (default 90d)")
	if done, err := parseCertsFlags(fs, args); done {
		return err
	}
	if *dir == "" || *region == "" {
		return usageError("certs issue: --dir and --region are required")
	}
	var parsed []net.IP
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return usageError("certs issue: --ip %q is not an IP address", s)
		}
		parsed = append(parsed, ip)
	}
	certPath, keyPath, issued, err := pki.IssueFiles(*dir, pki.NodeOptions{Region: *region, DNSNames: dns, IPs: parsed, ValidFor: life.d})
	if err != nil {
		return err
	}
	id, _ := pki.IdentityFromCertificate(issued.Cert)
	fmt.Fprintf(stdout, "issued %s, valid until %s\n  %s\n  %s (mode 0600)\n",
		id, issued.Cert.NotAfter.UTC().Format(time.RFC3339), certPath, keyPath)
	return nil
}

func runCertsInspect(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("certs inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "Usage: meridian certs inspect FILE") }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError("certs inspect: %v", err)
	}
	if fs.NArg() != 1 {
		return usageError("certs inspect: want exactly one FILE")
	}
	certs, err := pki.ReadCertificates(fs.Arg(0))
	if err != nil {
		return err
	}
	now := time.Now()
	for i, c := range certs {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := pki.Inspect(c, now).WriteText(stdout); err != nil {
			return err
		}
	}
	return nil
}
