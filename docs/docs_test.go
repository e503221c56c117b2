// Package docs_test holds the docs to the program: the reference topology
// file does what its comments say, and the messages the docs quote are the
// ones the program prints. (The simulator's result tables are checked by
// internal/sim's TestDocResultTables.)
package docs_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const exampleFile = "config.example.yaml"

// intent is one "# intent:" comment of the reference file: a principal is
// allowed (or denied) a profile from some source regions.
type intent struct {
	line      int
	principal string
	allowed   bool
	profile   string
	sources   []string
}

var intentLine = regexp.MustCompile(`^\s*# intent: (\S+) (allowed|denied) (\S+) from (.+)$`)

func intents(t *testing.T, path string) []intent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []intent
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		m := intentLine.FindStringSubmatch(sc.Text())
		if m == nil {
			if strings.Contains(sc.Text(), "# intent:") {
				t.Errorf("%s:%d: intent comment not understood: %q (want \"# intent: PRINCIPAL allowed|denied PROFILE from REGION, REGION\")", path, n, sc.Text())
			}
			continue
		}
		in := intent{line: n, principal: m[1], allowed: m[2] == "allowed", profile: m[3]}
		for _, r := range strings.Split(m[4], ",") {
			in.sources = append(in.sources, strings.TrimSpace(r))
		}
		out = append(out, in)
	}
	return out
}

// TestConfigExampleIntents: the reference file's own principal could not
// call its own application profile (403 from `policy simulate`). Each
// principal's "# intent:" comments are checked with the authorizer a node
// uses, as `meridian policy simulate --config` reports them.
func TestConfigExampleIntents(t *testing.T) {
	t.Parallel()
	cfg, err := topology.Load(exampleFile)
	if err != nil {
		t.Fatalf("the reference file does not load: %v", err)
	}
	cat, err := profile.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	authz, err := gateway.NewPolicyAuthorizer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ins := intents(t, exampleFile)
	seen := map[string]bool{}
	for _, in := range ins {
		seen[in.principal] = true
		p, ok := authn.Principal(in.principal)
		if !ok {
			t.Errorf("%s:%d: principal %q is not in the file", exampleFile, in.line, in.principal)
			continue
		}
		for _, src := range in.sources {
			got, why := decide(cat, authz, p, in.profile, src)
			if got != in.allowed {
				t.Errorf("%s:%d: %s invoking %s from %s: allowed=%v, the comment says %v (%s)", exampleFile, in.line, in.principal, in.profile, src, got, in.allowed, why)
			}
		}
	}
	for _, p := range cfg.Principals {
		if !seen[p.ID] {
			t.Errorf("%s: principal %q has no \"# intent:\" comment saying what it may do", exampleFile, p.ID)
		}
	}
}

// decide reports whether p may invoke name from source in full: the name
// resolves there and every destination of the profile is allowed.
func decide(cat *profile.Catalog, authz *gateway.PolicyAuthorizer, p auth.Principal, name, source string) (bool, string) {
	res, err := cat.Resolve(source, name)
	if err != nil {
		return false, err.Error()
	}
	for _, stream := range []bool{false, true} {
		allowed, err := authz.AuthorizeInvoke(gateway.AuthzInput{Principal: p, Source: source, Resolution: res, Stream: stream, Now: time.Now()})
		if err != nil {
			return false, err.Error()
		}
		if !slices.Equal(allowed, res.Destinations) {
			return false, "allowed only in " + strings.Join(allowed, ", ") + " of " + strings.Join(res.Destinations, ", ")
		}
	}
	return true, "allowed in " + strings.Join(res.Destinations, ", ")
}

// TestConfigExampleServes: `meridian serve` refused the reference file (it
// had no link section). With the certificates `meridian certs` makes where
// the file's comments say, every region's node starts.
func TestConfigExampleServes(t *testing.T) {
	abs, err := filepath.Abs(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := topology.Load(abs)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // the file's link paths are relative to where serve runs
	var regions []string
	for _, r := range cfg.Regions {
		regions = append(regions, r.ID)
	}
	link, err := pki.Provision("link", pki.DefaultTrustDomain, regions...) // = certs init + certs issue per region
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Clean(cfg.Link.CAFile) != link.CAFile || filepath.Clean(cfg.Link.CertFile) != link.CertFile || filepath.Clean(cfg.Link.KeyFile) != link.KeyFile {
		t.Errorf("link files %q %q %q are not where `meridian certs init/issue --dir ./link` writes them (%q %q %q)",
			cfg.Link.CAFile, cfg.Link.CertFile, cfg.Link.KeyFile, link.CAFile, link.CertFile, link.KeyFile)
	}
	// The secret the file names with api_key_env.
	getenv := func(name string) string {
		if name == "US_EAST_1_KEY" {
			return "sk-example"
		}
		return ""
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // hang guard
	defer cancel()
	for _, r := range regions {
		n, err := node.New(node.Options{Config: cfg, Region: r, Listen: "127.0.0.1:0", Link: "127.0.0.1:0",
			AuditDir: filepath.Join("audit", r), DataDir: "data", Getenv: getenv})
		if err != nil {
			t.Errorf("serve --region %s: %v", r, err)
			continue
		}
		if err := n.Start(ctx); err != nil {
			t.Errorf("serve --region %s: start: %v", r, err)
			continue
		}
		if err := n.Shutdown(ctx); err != nil {
			t.Errorf("serve --region %s: shutdown: %v", r, err)
		}
	}
}

// TestAuditExampleHash: the example event in audit.md carries the hash the
// doc's own recipe computes.
func TestAuditExampleHash(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("audit.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(\\{\"eventVersion\".*?)\n```").FindSubmatch(b)
	if m == nil {
		t.Fatal("audit.md: example event not found")
	}
	var line strings.Builder
	for _, l := range strings.Split(string(m[1]), "\n") {
		line.WriteString(strings.TrimSpace(l))
	}
	h := regexp.MustCompile(`"hash":"([0-9a-f]{64})"\}$`).FindStringSubmatch(line.String())
	if h == nil {
		t.Fatal("audit.md: example event has no hash")
	}
	sum := sha256.Sum256([]byte(strings.TrimSuffix(line.String(), h[1]+`"}`) + `"}`))
	if got := hex.EncodeToString(sum[:]); got != h[1] {
		t.Errorf("audit.md: example event's hash is %s, its bytes hash to %s", h[1], got)
	}
}
