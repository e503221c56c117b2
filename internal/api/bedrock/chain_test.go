package bedrock_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/node/nodetest"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// startNode starts one node of a one-region topology; yaml's %[1]s and
// %[2]s are replaced by the client and link addresses.
func startNode(t *testing.T, yaml, region string, getenv func(string) string) *node.Node {
	t.Helper()
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg, err := topology.Parse([]byte(fmt.Sprintf(yaml, cl.Addr(), ll.Addr())), region+".yaml")
	if err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, node.Options{Config: cfg, Region: region, ClientListener: cl, LinkListener: ll, Dev: true, Getenv: getenv,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))})
	return n
}

// TestBedrockBackendChain: node A's deployment has `backend.type: bedrock`
// pointing at node B's Bedrock front end; the official client calls A. The
// adapter uses the default credential chain (here: environment variables).
func TestBedrockBackendChain(t *testing.T) { overTransports(t, testBedrockBackendChain) }

// startChainTarget sets node A's AWS credentials in the environment (the
// adapter's default chain reads them) and starts node B: a Bedrock front end
// in eu-central-1 with a simulated model, where A's key is a principal.
func startChainTarget(t *testing.T) *node.Node {
	t.Helper()
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDNODEA")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "node-a-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return startNode(t, `account: "444455556666"
audit: {disabled: true}
server: {data_dir: `+fmt.Sprintf("%q", t.TempDir())+`}
link: {insecure_dev_link: true}
geographies: {eu: {name: EU}}
regions: [{id: eu-central-1, geography: eu, location: {lat: 50, lon: 8}, listen: "%[1]s", link: "%[2]s"}]
models: [{id: demo.chat-small}]
deployments: [{model: demo.chat-small, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}]
principals: [{id: meridian-eu-west-1, access_keys: [{id: AKIDNODEA, secret_env: NODE_A_SECRET}]}]
`, "eu-central-1", func(k string) string {
		if k == "NODE_A_SECRET" {
			return "node-a-secret"
		}
		return ""
	})
}

func testBedrockBackendChain(t *testing.T) {
	b := startChainTarget(t)
	a := startNode(t, `account: "111122223333"
audit: {disabled: true}
server: {data_dir: `+fmt.Sprintf("%q", t.TempDir())+`}
link: {insecure_dev_link: true}
geographies: {eu: {name: EU, aws_regions: [eu-central-1]}}
regions: [{id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "%[1]s", link: "%[2]s"}]
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: bedrock, aws_region: eu-central-1, model: eu.demo.chat-small, endpoint: "http://`+b.ClientAddr()+`", residency_checked: true}}
principals: [{id: app, access_keys: [{id: AKIDAPP, secret_env: APP_SECRET}]}]
`, "eu-west-1", func(k string) string {
		if k == "APP_SECRET" {
			return "app-secret"
		}
		return ""
	})
	if _, ok := a.Backends()["demo.chat-small"].(*backend.Bedrock); !ok {
		t.Fatalf("node A's backend is %T, want *backend.Bedrock", a.Backends()["demo.chat-small"])
	}
	c := &cluster{t: t, nodes: map[string]*node.Node{"eu-west-1": a}}
	rt := c.clientAs("eu-west-1", "AKIDAPP", "app-secret")
	ctx := t.Context()

	out, err := rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: userMessage("hi")})
	if err != nil {
		t.Fatalf("Converse through A → Bedrock adapter → B: %v", err)
	}
	if out.Usage == nil || aws.ToInt32(out.Usage.OutputTokens) == 0 || rawHeader(out.ResultMetadata, gateway.HeaderInferenceRegion) != "eu-west-1" {
		t.Errorf("Converse = usage %+v, region %q", out.Usage, rawHeader(out.ResultMetadata, gateway.HeaderInferenceRegion))
	}
	st, err := rt.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String("eu.demo.chat-small"), Messages: userMessage("hi")})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for ev := range st.GetStream().Events() {
		if d, ok := ev.(*rttypes.ConverseStreamOutputMemberContentBlockDelta); ok {
			text.WriteString(d.Value.Delta.(*rttypes.ContentBlockDeltaMemberText).Value)
		}
	}
	if err := st.GetStream().Err(); err != nil || text.Len() == 0 {
		t.Fatalf("ConverseStream through the chain: text %q, err %v", text.String(), err)
	}

	// Bedrock's throttling reaches A's router as a typed 429 with Retry-After.
	b.Backends()["demo.chat-small"].(*backend.Mock).Server().SetThrottled(4 * time.Second)
	_, err = rt.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: userMessage("hi")})
	var te *rttypes.ThrottlingException
	if !errors.As(err, &te) {
		t.Fatalf("Converse with B throttled = %v, want *types.ThrottlingException", err)
	}
}
