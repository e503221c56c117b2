package bedrock_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const (
	testAKID   = "AKIDMERIDIANTEST"
	testSecret = "meridian-test-secret-key/0123456789"
	secretEnv  = "MERIDIAN_TEST_AWS_SECRET"

	deniedAKID      = "AKIDMERIDIANDENIED"
	deniedSecret    = "meridian-denied-secret"
	deniedSecretEnv = "MERIDIAN_TEST_AWS_SECRET_DENIED"
)

// cluster is a set of real nodes on loopback with embedded mock models.
type cluster struct {
	t        *testing.T
	cfg      *topology.Config
	yaml     string
	key      string
	dataDir  string
	auditDir string
	nodes    map[string]*node.Node
	// wrap, when set, wraps each client listener (tests count bytes).
	wrap func(net.Listener) net.Listener
	// clock, when set, is every node's clock (node.Options.Clock), which
	// also paces the embedded mock models and times their adapters.
	clock clock.Clock
}

// withClock gives every node of the cluster clk.
func withClock(clk clock.Clock) func(*cluster) {
	return func(c *cluster) { c.clock = clk }
}

type regionSpec struct{ id, geo string }

const (
	// throttledFirstByte is demo.throttled's first_byte_timeout; a
	// duration no other timer of a node uses (the queue and observer
	// bounds are 2s), so that a test finds the adapter's timer by it.
	throttledFirstByte = 2500 * time.Millisecond
	// loadInterval is the link's load_interval: every node fetches each
	// peer's state (its load and application profiles) this often, on its
	// clock.
	loadInterval = 200 * time.Millisecond
)

// startCluster starts one node per region. Every region serves
// demo.chat-small; the first also serves demo.throttled (first-byte
// time-out throttledFirstByte). extra is appended to the topology.
func startCluster(t *testing.T, regions []regionSpec, extra string) *cluster {
	t.Helper()
	return startClusterWith(t, regions, extra, "")
}

// startClusterWith is startCluster with more fields for the server section,
// e.g. ", sigv4: {allow_presigned: true}".
func startClusterWith(t *testing.T, regions []regionSpec, extra, server string, opts ...func(*cluster)) *cluster {
	t.Helper()
	var d strings.Builder
	d.WriteString("models:\n  - {id: demo.chat-small}\n  - {id: demo.throttled}\ndeployments:\n")
	for _, r := range regions {
		fmt.Fprintf(&d, "  - {model: demo.chat-small, region: %s, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}\n", r.id)
	}
	fmt.Fprintf(&d, "  - {model: demo.throttled, region: %s, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000, first_byte_timeout: %s}}\n", regions[0].id, throttledFirstByte)
	return bootCluster(t, regions, d.String(), extra, server, opts...)
}

// bootCluster starts one node per region serving deployments (the
// topology's models and deployments sections). extra is appended to the
// topology and server to its server section.
func bootCluster(t *testing.T, regions []regionSpec, deployments, extra, server string, opts ...func(*cluster)) *cluster {
	t.Helper()
	// The SDK switches to bearer auth when this is set (docs/bedrock.md, "Signatures and bearer tokens").
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "")
	os.Unsetenv("AWS_BEARER_TOKEN_BEDROCK")
	key, _ := auth.NewKey()
	c := &cluster{t: t, key: key, dataDir: t.TempDir(), auditDir: t.TempDir(), nodes: map[string]*node.Node{}}
	for _, o := range opts {
		o(c)
	}
	var y strings.Builder
	fmt.Fprintf(&y, "account: \"111122223333\"\naudit: {dir: %q}\nserver: {data_dir: %q%s}\nlink: {insecure_dev_link: true, load_interval: %s}\n", c.auditDir, c.dataDir, server, loadInterval)
	y.WriteString("geographies:\n  us: {name: US}\n  eu: {name: EU}\nregions:\n")
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
		lns[r.id] = [2]net.Listener{cl, ll}
		fmt.Fprintf(&y, "  - {id: %s, geography: %s, location: {lat: %d, lon: %d}, listen: %q, link: %q}\n", r.id, r.geo, 10*i, 10*i, cl.Addr(), ll.Addr())
	}
	y.WriteString(deployments)
	fmt.Fprintf(&y, "principals:\n  - {id: tester, api_keys: [%q], access_keys: [{id: %s, secret_env: %s}]%s}\n", auth.HashKey(key), testAKID, secretEnv, testerPolicies(extra))
	y.WriteString(extra)
	c.yaml = y.String()
	cfg, err := topology.Parse([]byte(c.yaml), "cluster.yaml")
	if err != nil {
		t.Fatalf("topology: %v\n%s", err, c.yaml)
	}
	c.cfg = cfg
	for _, r := range regions {
		c.start(r.id, lns[r.id][0], lns[r.id][1])
	}
	return c
}

// testerPolicies attaches the "all" policy to the tester when the extra
// topology defines policies (with policies, no policy means no access).
func testerPolicies(extra string) string {
	if strings.Contains(extra, "\npolicies:") {
		return ", policies: [all]"
	}
	return ""
}

func (c *cluster) getenv(k string) string {
	switch k {
	case secretEnv:
		return testSecret
	case deniedSecretEnv:
		return deniedSecret
	}
	return ""
}

// withPolicies adds a principal "denied" (access key deniedAKID) that may
// only list profiles, and gives the tester every bedrock action.
const withPolicies = `  - {id: denied, access_keys: [{id: ` + deniedAKID + `, secret_env: ` + deniedSecretEnv + `}], policies: [list-only]}
policies:
  list-only:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:ListInferenceProfiles", Resource: "*" }]
  all:
    Version: "2012-10-17"
    Statement: [{ Effect: Allow, Action: "bedrock:*", Resource: "*" }]
`

func (c *cluster) start(region string, cl, ll net.Listener) *node.Node {
	c.t.Helper()
	if c.wrap != nil {
		cl = c.wrap(cl)
	}
	n, err := node.New(node.Options{Config: c.cfg, Region: region, ClientListener: cl, LinkListener: ll, Dev: true, Getenv: c.getenv, Clock: c.clock,
		Logger: slog.New(slog.NewTextHandler(testWriter{c.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		c.t.Fatal(err)
	}
	if err := n.Start(c.t.Context()); err != nil {
		c.t.Fatal(err)
	}
	c.nodes[region] = n
	c.t.Cleanup(func() { c.stop(region) })
	return n
}

// stop drains a node (idempotent).
func (c *cluster) stop(region string) {
	n := c.nodes[region]
	if n == nil {
		return
	}
	delete(c.nodes, region)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.Shutdown(ctx)
}

// restart stops region's node and starts a new one on fresh ports.
func (c *cluster) restart(region string) *node.Node {
	c.t.Helper()
	c.stop(region)
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	return c.start(region, cl, ll)
}

func (c *cluster) url(region string) string { return "http://" + c.nodes[region].ClientAddr() }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// runtimeClient is the official Bedrock Runtime client, unmodified but for
// the endpoint, static credentials and no retries.
func (c *cluster) runtimeClient(region string, optFns ...func(*bedrockruntime.Options)) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{Region: region, BaseEndpoint: aws.String(c.url(region)), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, ""), HTTPClient: c.httpClient()}, optFns...)
}

// clientAs returns a Bedrock Runtime client with other credentials.
func (c *cluster) clientAs(region, akid, secret string) *bedrockruntime.Client {
	return bedrockruntime.New(bedrockruntime.Options{Region: region, BaseEndpoint: aws.String(c.url(region)), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""), HTTPClient: c.httpClient()})
}

// controlClient is the official Bedrock control-plane client.
func (c *cluster) controlClient(region string) *awsbedrock.Client {
	return awsbedrock.New(awsbedrock.Options{Region: region, BaseEndpoint: aws.String(c.url(region)), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, ""), HTTPClient: c.httpClient()})
}
