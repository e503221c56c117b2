package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/policy"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

func init() {
	register("policy", "evaluate IAM-style policies offline (policy simulate ...)", runPolicy)
}

func runPolicy(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stderr, "Usage: meridian policy simulate --policy FILE [--policy FILE ...] [--guardrail FILE ...] --action ACTION --resource ARN [--context-file FILE.json] [--context KEY=VALUE ...] [--output text|json]")
		fmt.Fprintln(stderr, "   or: meridian policy simulate --config FILE --principal ID --profile ID --region SOURCE [--action ACTION] [--context KEY=VALUE ...] [--output text|json]")
		if len(args) == 0 {
			return usageError("policy: missing subcommand (want simulate)")
		}
		return nil
	}
	switch args[0] {
	case "simulate":
		return runPolicySimulate(args[1:], stdout, stderr)
	}
	return usageError("policy: unknown subcommand %q (want simulate)", args[0])
}

// policyFlagList is a repeatable string flag.
type policyFlagList []string

func (l *policyFlagList) String() string { return strings.Join(*l, ",") }

func (l *policyFlagList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// runPolicySimulate evaluates one request. It exits 0 whatever the decision,
// so that CI pipelines read the decision from the output; only bad input
// fails.
func runPolicySimulate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("policy simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var policies, guardrails, contexts policyFlagList
	fs.Var(&policies, "policy", "identity policy JSON `FILE` (repeatable)")
	fs.Var(&guardrails, "guardrail", "guardrail policy JSON `FILE`, evaluated like an SCP (repeatable)")
	fs.Var(&contexts, "context", "request context `KEY=VALUE` (repeat a key for several values)")
	action := fs.String("action", "", "the `ACTION` to evaluate, e.g. bedrock:InvokeModel")
	resource := fs.String("resource", "", "the resource `ARN` (use * for actions without a resource)")
	contextFile := fs.String("context-file", "", "JSON `FILE` mapping context keys to a string or an array of strings")
	output := fs.String("output", "text", "output format: text or json")
	config := fs.String("config", "", "topology `FILE`: simulate a principal invoking a profile from a source region (form 2)")
	principal := fs.String("principal", "", "with --config: the principal `ID`")
	profileID := fs.String("profile", "", "with --config: the profile `ID` (or ARN, or model id)")
	region := fs.String("region", "", "with --config: the source `REGION`")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError("policy simulate: %v", err)
	}
	if fs.NArg() > 0 {
		return usageError("policy simulate: unexpected argument %q", fs.Arg(0))
	}
	if *output != "text" && *output != "json" {
		return usageError("policy simulate: --output %q is not text or json", *output)
	}
	if *config != "" {
		return simulateFromConfig(*config, *principal, *profileID, *region, *action, contexts, *output, stdout, stderr)
	}
	if *action == "" || *resource == "" {
		return usageError("policy simulate: --action and --resource are required")
	}
	// A typo of a Bedrock action is refused here as `config validate` and
	// the node refuse it in a topology: it would otherwise simulate as
	// implicitDeny (or an Allow/Deny that never applies). An action
	// Meridian never authorizes is simulated, with a note.
	note, err := policy.CheckAction(*action)
	if err != nil {
		return usageError("policy simulate: --action: %v", err)
	}
	if note != "" {
		fmt.Fprintf(stderr, "note: --action: %s\n", note)
	}
	in := policy.SimulateInput{Action: *action, Resource: *resource, Context: map[string][]string{}}
	if in.Policies, err = readPolicyDocuments(policies); err != nil {
		return usageError("policy simulate: %v", err)
	}
	if in.Guardrails, err = readPolicyDocuments(guardrails); err != nil {
		return usageError("policy simulate: %v", err)
	}
	var parsed []*policy.Policy
	for _, doc := range append(slices.Clip(in.Policies), in.Guardrails...) {
		// Invalid documents are reported by Simulate, with every problem.
		if p, err := policy.Parse(doc.Name, doc.JSON); err == nil {
			if err := p.CheckActions(); err != nil {
				return usageError("policy simulate: policy %q: %s", doc.Name, strings.ReplaceAll(err.Error(), "\n", "; "))
			}
			for _, n := range p.ActionNotes() {
				fmt.Fprintf(stderr, "note: policy %q: %v\n", doc.Name, n)
			}
			for _, n := range p.LiteralVariableNotes() {
				fmt.Fprintf(stderr, "note: policy %q: %v\n", doc.Name, n)
			}
			// A key of another service is simulated (--context may give
			// it), but a topology refuses it: the node never sets it.
			for _, e := range unjoinErr(p.CheckKeys()) {
				fmt.Fprintf(stderr, "note: policy %q: %v (a topology refuses it)\n", doc.Name, e)
			}
			parsed = append(parsed, p)
		}
	}
	if *contextFile != "" {
		data, err := os.ReadFile(*contextFile)
		if err != nil {
			return usageError("policy simulate: read context file: %v", err)
		}
		m, err := policy.ParseContextJSON(data)
		if err != nil {
			return usageError("policy simulate: %s: %v", *contextFile, err)
		}
		in.Context = m
	}
	for _, kv := range contexts {
		if err := policy.ParseContextPair(in.Context, kv); err != nil {
			return usageError("policy simulate: --context: %v", err)
		}
	}
	rep, err := policy.Simulate(in)
	if err != nil {
		return usageError("policy simulate: %v", err)
	}
	if unset := policy.UnsetRequestKeys(parsed, in.Context); len(unset) > 0 {
		fmt.Fprintf(stderr, "note: the policies read %s, which the node sets from each request and this simulation has no value for: the node may decide differently (give them with --context KEY=VALUE)\n", strings.Join(unset, ", "))
	}
	if *output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err = io.WriteString(stdout, rep.Text())
	return err
}

// readPolicyDocuments reads policy files; each policy is named after its
// file, without the extension.
func readPolicyDocuments(files []string) ([]policy.Document, error) {
	docs := make([]policy.Document, 0, len(files))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read policy: %w", err)
		}
		name := strings.TrimSuffix(filepath.Base(f), filepath.Ext(f))
		docs = append(docs, policy.Document{Name: name, JSON: data})
	}
	return docs, nil
}

// simulateFromConfig is form 2: for every destination of the profile as
// resolved in the source region, the decision and why.
func simulateFromConfig(path, principalID, profileID, region, action string, contexts []string, output string, stdout, stderr io.Writer) error {
	if principalID == "" || profileID == "" || region == "" {
		return usageError("policy simulate --config needs --principal, --profile and --region")
	}
	cfg, err := topology.Load(path)
	if err != nil {
		return err
	}
	var principal *topology.Principal
	for i := range cfg.Principals {
		if cfg.Principals[i].ID == principalID {
			principal = &cfg.Principals[i]
		}
	}
	if principal == nil {
		return usageError("policy simulate: principal %q is not in %s", principalID, path)
	}
	if _, ok := cfg.Region(region); !ok {
		return usageError("policy simulate: region %q is not in %s", region, path)
	}
	cat, err := profile.New(cfg)
	if err != nil {
		return err
	}
	res, err := cat.Resolve(region, profileID)
	if err != nil {
		return usageError("policy simulate: %v", err)
	}
	compile := func(name string, doc topology.PolicyDocument) (*policy.Policy, error) {
		p, err := policy.Parse(name, doc.JSON)
		if err != nil {
			return nil, fmt.Errorf("policy %q: %w", name, err)
		}
		return p, nil
	}
	// The keys the node sets that the topology and the clock decide: the
	// principal's ARN and account, the time now, and aws:SecureTransport as
	// the source region's client listener sets it (TLS or not). The
	// caller's address is unknown; the report names every such key the
	// policies read.
	r, _ := cfg.Region(region)
	in := policy.InvokeSimulation{Username: principal.Name(), UserID: principal.ID, PrincipalTags: principal.Tags,
		PrincipalARN: policy.PrincipalARN(cfg.PartitionOrDefault(), cfg.Account, principal.Name()), Account: cfg.Account,
		Now: time.Now(), SecureTransport: strconv.FormatBool(r.TLS != nil),
		Geography: cfg.GeographyOf(region), Context: map[string][]string{}}
	for _, name := range principal.Policies {
		p, err := compile(name, cfg.Policies[name])
		if err != nil {
			return err
		}
		in.Policies = append(in.Policies, p)
	}
	for _, g := range cfg.Guardrails {
		doc := cfg.Policies[g.Name]
		if g.Policy != nil {
			doc = *g.Policy
		}
		p, err := compile(g.Name, doc)
		if err != nil {
			return err
		}
		in.Guardrails = append(in.Guardrails, p)
	}
	if res.Profile != nil && res.Profile.Type == profile.Application {
		in.ProfileTags = res.Profile.Tags
	}
	if action == "" {
		action = policy.ActionInvokeModel
	}
	note, err := policy.CheckAction(action)
	if err != nil {
		return usageError("policy simulate: --action: %v", err)
	}
	if note != "" {
		fmt.Fprintf(stderr, "note: --action: %s\n", note)
	}
	in.Invocation = gateway.InvocationFor(cat.Partition(), action, region, res)
	in.AllDestinations = cfg.AuthorizationOrDefault() == topology.AuthorizationAllDestinations
	for _, kv := range contexts {
		if err := policy.ParseContextPair(in.Context, kv); err != nil {
			return usageError("policy simulate: --context: %v", err)
		}
	}
	rep := policy.SimulateInvoke(in)
	if output == "json" && len(rep.UnsetKeys) > 0 {
		fmt.Fprintf(stderr, "note: the policies read %s, which the node sets from each request and this simulation has no value for: the node may decide differently (give them with --context KEY=VALUE)\n", strings.Join(rep.UnsetKeys, ", "))
	}
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	_, err = io.WriteString(stdout, rep.Text())
	return err
}

// unjoinErr splits an errors.Join result into its errors.
func unjoinErr(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
