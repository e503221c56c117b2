package anthropic_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// cluster is a set of real nodes on loopback with embedded mock models.
type cluster struct {
	t               *testing.T
	key, limitedKey string
	deniedKey       string // may only list profiles
	auditDir        string
	nodes           map[string]*node.Node
	caFile          string // the link CA, which signs the receipts' certificates
}

// startCluster starts eu-west-1 and eu-central-1 (EU) and us-east-1 (US).
// demo.br is a mock of Bedrock's API (Anthropic bodies pass through),
// demo.oa a mock of OpenAI's (they are translated); each is served in
// eu-west-1 and us-east-1, and as demo.brfar and demo.oafar only in
// eu-central-1 (forwarded from eu-west-1). demo.nova (eu-west-1) and
// demo.novafar (eu-central-1) are a mock of Bedrock's API serving a model
// of another family (amazon.nova-2-lite: thinking reaches it as
// reasoningConfig), which takes no Anthropic body: requests to it are
// translated to Converse. The principal "limited" may
// send one request a minute; "denied" may invoke nothing.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	key, _ := auth.NewKey()
	limited, _ := auth.NewKey()
	denied, _ := auth.NewKey()
	c := &cluster{t: t, key: key, limitedKey: limited, deniedKey: denied, auditDir: t.TempDir(), nodes: map[string]*node.Node{}}
	regions := [][2]string{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}, {"us-east-1", "us"}}
	// The real link (mutual TLS, signed envelopes), whose certificates
	// sign residency receipts.
	lc, err := pki.Provision(t.TempDir(), "", regions[0][0], regions[1][0], regions[2][0])
	if err != nil {
		t.Fatal(err)
	}
	c.caFile = lc.CAFile
	var y strings.Builder
	fmt.Fprintf(&y, "account: \"111122223333\"\naudit: {dir: %q}\nserver: {data_dir: %q}\nlink: {ca_file: %q, cert_file: %q, key_file: %q, load_interval: 200ms}\n", c.auditDir, t.TempDir(), lc.CAFile, lc.CertFile, lc.KeyFile)
	y.WriteString("geographies:\n  eu: {name: EU}\n  us: {name: US}\nregions:\n")
	lns := map[string][2]net.Listener{}
	for i, r := range regions {
		cl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ll, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[r[0]] = [2]net.Listener{cl, ll}
		fmt.Fprintf(&y, "  - {id: %s, geography: %s, location: {lat: %d, lon: %d}, listen: %q, link: %q}\n", r[0], r[1], 10*i, 10*i, cl.Addr(), ll.Addr())
	}
	y.WriteString(`models:
  - {id: demo.br}
  - {id: demo.brfar}
  - {id: demo.oa}
  - {id: demo.oafar}
  - {id: demo.nova}
  - {id: demo.novafar}
deployments:
  - {model: demo.br, region: eu-west-1, backend: {type: mock, api: bedrock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.br, region: us-east-1, backend: {type: mock, api: bedrock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.brfar, region: eu-central-1, backend: {type: mock, api: bedrock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.oa, region: eu-west-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.oa, region: us-east-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.oafar, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.nova, region: eu-west-1, backend: {type: mock, api: bedrock, model: amazon.nova-2-lite-v1:0, ttft: 1ms, tokens_per_second: 5000}}
  - {model: demo.novafar, region: eu-central-1, backend: {type: mock, api: bedrock, model: amazon.nova-2-lite-v1:0, ttft: 1ms, tokens_per_second: 5000}}
`)
	fmt.Fprintf(&y, "principals:\n  - {id: tester, api_keys: [%q], policies: [all]}\n  - {id: limited, api_keys: [%q], limits: {rpm: 1}, policies: [all]}\n  - {id: denied, api_keys: [%q], policies: [list-only]}\n",
		auth.HashKey(key), auth.HashKey(limited), auth.HashKey(denied))
	y.WriteString(`policies:
  list-only:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*" }]
  all:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:*", Resource: "*" }]
`)
	cfg, err := topology.Parse([]byte(y.String()), "messages.yaml")
	if err != nil {
		t.Fatalf("topology: %v\n%s", err, y.String())
	}
	for _, r := range regions {
		l := lns[r[0]]
		n, err := node.New(node.Options{Config: cfg, Region: r[0], ClientListener: l[0], LinkListener: l[1], Dev: true,
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.nodes[r[0]] = n
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			n.Shutdown(ctx)
		})
	}
	return c
}

func (c *cluster) url(region string) string { return "http://" + c.nodes[region].ClientAddr() }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
