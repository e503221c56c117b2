package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// Options configure a demo run.
type Options struct {
	// BasePort is the first region's client port. If zero, 8080.
	BasePort int
	// APIKey is the demo principal's key; if empty one is generated.
	APIKey string
	// Dir holds the demo's state (audit trail); if empty a temporary
	// directory is used and removed afterwards.
	Dir    string
	Logger *slog.Logger
	// Clock is every node's clock and paces the readiness wait and the
	// load generator. If nil, clock.Wall.
	Clock clock.Clock
}

// Demo is a running demo.
type Demo struct {
	Config *topology.Config
	APIKey string
	// AccessKeyID and SecretAccessKey sign AWS SDK (SigV4) requests.
	AccessKeyID, SecretAccessKey string
	Nodes                        []*node.Node
	dir                          string
	rmDir                        bool
	clock                        clock.Clock
}

// Start builds the demo topology and starts every region's node. It returns
// once every node is ready.
func Start(ctx context.Context, opts Options) (*Demo, error) {
	if opts.BasePort == 0 {
		opts.BasePort = 8080
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Demo{APIKey: opts.APIKey, dir: opts.Dir, clock: clock.Or(opts.Clock)}
	if d.APIKey == "" {
		k, err := auth.NewKey()
		if err != nil {
			return nil, err
		}
		d.APIKey = k
	}
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "meridian-demo-")
		if err != nil {
			return nil, err
		}
		d.dir, d.rmDir = dir, true
	}
	// The demo runs the real link: its own CA and a certificate per region.
	ids := make([]string, len(Regions))
	for i, r := range Regions {
		ids[i] = r.ID
	}
	link, err := pki.Provision(filepath.Join(d.dir, "certs"), pki.DefaultTrustDomain, ids...)
	if err != nil {
		d.cleanup()
		return nil, fmt.Errorf("demo certificates: %w", err)
	}
	d.AccessKeyID, d.SecretAccessKey = "AKIAMERIDIANDEMO0001", randomSecret()
	_, cfg, err := Topology(TopologyOptions{BasePort: opts.BasePort, KeyHash: auth.HashKey(d.APIKey), AccessKeyID: d.AccessKeyID,
		AuditDir: filepath.Join(d.dir, "audit"), DataDir: filepath.Join(d.dir, "data"), Link: link})
	if err != nil {
		d.cleanup()
		return nil, err
	}
	d.Config = cfg
	for _, r := range cfg.Regions {
		n, err := node.New(node.Options{Config: cfg, Region: r.ID, Logger: opts.Logger, Demo: d, Getenv: d.getenv, Clock: d.clock})
		if err == nil {
			err = n.Start(ctx)
		}
		if err != nil {
			d.Stop(context.Background())
			if strings.Contains(err.Error(), "address already in use") {
				err = fmt.Errorf("%w (fix: stop what uses the port, or pass --base-port with a free range of %d ports and their link ports +1000)", err, len(cfg.Regions))
			}
			return nil, err
		}
		d.Nodes = append(d.Nodes, n)
	}
	if err := d.waitReady(ctx); err != nil {
		d.Stop(context.Background())
		return nil, err
	}
	return d, nil
}

// getenv gives nodes the demo's generated secrets, as a deployment's
// environment would.
func (d *Demo) getenv(name string) string {
	if name == "MERIDIAN_DEMO_SECRET_ACCESS_KEY" {
		return d.SecretAccessKey
	}
	return os.Getenv(name)
}

func randomSecret() string {
	b := make([]byte, 30)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// waitReady polls every node's /readyz over its real listener.
func (d *Demo) waitReady(ctx context.Context) error {
	deadline := d.clock.Now().Add(10 * time.Second)
	for _, n := range d.Nodes {
		for {
			resp, err := http.Get("http://" + n.ClientAddr() + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if d.clock.Now().After(deadline) {
				return fmt.Errorf("region %s not ready after 10s", n.Region().ID)
			}
			t, poll := d.clock.NewTimer(20 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-poll:
			}
		}
	}
	return nil
}

// Node returns the node of a region.
func (d *Demo) Node(region string) *node.Node {
	for _, n := range d.Nodes {
		if n.Region().ID == region {
			return n
		}
	}
	return nil
}

// Stop drains every node.
func (d *Demo) Stop(ctx context.Context) error {
	// Nodes drain concurrently: each may wait for in-flight streams and for
	// its HTTP/2 peers to acknowledge the shutdown.
	errs := make([]error, len(d.Nodes))
	var wg sync.WaitGroup
	for i, n := range d.Nodes {
		wg.Go(func() { errs[i] = n.Shutdown(ctx) })
	}
	wg.Wait()
	d.cleanup()
	return errors.Join(errs...)
}

func (d *Demo) cleanup() {
	if d.rmDir {
		os.RemoveAll(d.dir)
	}
}

// deploymentLabel names a deployment and its concurrency in the intro's
// table: "demo.chat-small (8 conc.)", or "(unlimited conc.)" for a
// deployment without max_concurrency, whose Concurrency is 0.
func deploymentLabel(dep topology.Deployment) string {
	if c := dep.Capacity.Concurrency(); c > 0 {
		return fmt.Sprintf("%s (%d conc.)", dep.Model, c)
	}
	return dep.Model + " (unlimited conc.)"
}

// PrintIntro writes the table of regions and a curl command that works as
// pasted.
func (d *Demo) PrintIntro(w io.Writer) {
	fmt.Fprintf(w, "Meridian demo: %d regions in %d geographies, simulated model servers, all on localhost.\n", len(d.Nodes), len(d.Config.Geographies))
	fmt.Fprintf(w, "Regions talk over mutual TLS 1.3 with signed envelopes (demo CA in %s).\n\n", filepath.Join(d.dir, "certs"))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tGEOGRAPHY\tAPI ENDPOINT\tLINK\tMODELS")
	for _, n := range d.Nodes {
		r := n.Region()
		var models []string
		for _, dep := range d.Config.DeploymentsIn(r.ID) {
			models = append(models, deploymentLabel(dep))
		}
		fmt.Fprintf(tw, "%s\t%s\thttp://%s\t%s\t%s\n", r.ID, r.Geography, n.ClientAddr(), n.LinkAddr(), strings.Join(models, ", "))
	}
	tw.Flush()
	eu := d.Node("eu-west-1")
	fmt.Fprintf(w, "\nAPI key: %s\n\n", d.APIKey)
	fmt.Fprintf(w, "Try it (enters in eu-west-1, stays in the EU):\n\n")
	fmt.Fprintf(w, "  curl -sS -i http://%s/v1/chat/completions \\\n    -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \\\n    -d '{\"model\":\"eu.demo.chat-small\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello from Dublin\"}]}'\n\n", eu.ClientAddr(), d.APIKey)
	fmt.Fprintf(w, "Streaming: add \"stream\":true and use curl -N. Profiles: GET /v1/models. Regions: GET /meridian/v1/regions (with the same Authorization header).\n")
	fmt.Fprintf(w, "AWS SDK (Bedrock API): endpoint http://%s, region eu-west-1, access key %s, secret %s\n", eu.ClientAddr(), d.AccessKeyID, d.SecretAccessKey)
	fmt.Fprintf(w, "Press Ctrl-C to stop.\n")
}
