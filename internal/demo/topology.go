package demo

import (
	"bytes"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"text/template"

	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/topology"
)

//go:embed topology.yaml.tmpl
var topologyTemplate string

// Region is one demo region.
type Region struct {
	ID, Geo  string
	Lat, Lon float64
}

// Regions are the demo's regions, in port order.
var Regions = []Region{
	{"us-east-1", "us", 38.9, -77.4},
	{"us-west-2", "us", 45.8, -119.7},
	{"eu-west-1", "eu", 53.3, -6.3},
	{"eu-central-1", "eu", 50.1, 8.7},
	{"ap-northeast-1", "apac", 35.7, 139.7},
	{"ap-southeast-2", "apac", -33.9, 151.2},
}

type deployment struct {
	Model, Region         string
	TTFT                  string
	TPS                   float64
	Concurrency, RPM, TPM int
	Seed                  int
}

// deployments give each region a different capacity, so that load visibly
// spills over: us-west-2 and eu-west-1 are small, chat-large is scarce.
var deployments = []deployment{
	{"demo.chat-small", "us-east-1", "120ms", 60, 16, 1200, 400000, 1},
	{"demo.chat-small", "us-west-2", "150ms", 50, 6, 300, 120000, 2},
	{"demo.chat-small", "eu-west-1", "120ms", 60, 6, 300, 120000, 3},
	{"demo.chat-small", "eu-central-1", "140ms", 55, 12, 900, 300000, 4},
	{"demo.chat-small", "ap-northeast-1", "130ms", 60, 10, 600, 200000, 5},
	{"demo.chat-small", "ap-southeast-2", "160ms", 45, 6, 300, 120000, 6},
	{"demo.chat-large", "us-east-1", "300ms", 30, 8, 300, 200000, 7},
	{"demo.chat-large", "eu-central-1", "320ms", 28, 6, 240, 160000, 8},
	{"demo.chat-large", "ap-northeast-1", "350ms", 25, 4, 120, 80000, 9},
}

// ChatCapabilities are what the demo's chat deployments declare: every
// capability the simulator serves except embeddings, as a real chat
// model's deployment has, so that an embeddings request for a chat model
// is refused as it would be in a real deployment and embeddings go to
// demo.embed.
func ChatCapabilities() []string {
	return slices.DeleteFunc(slices.Clone(topology.KnownCapabilities), func(c string) bool { return c == topology.CapabilityEmbeddings })
}

// embeddingRegions serve demo.embed, an embedding model (POST
// /v1/embeddings), in every geography.
var embeddingRegions = []string{"us-east-1", "eu-west-1", "eu-central-1", "ap-northeast-1"}

// TopologyOptions parameterise the demo topology.
type TopologyOptions struct {
	BasePort int
	// KeyHash is the demo principal's API key hash.
	KeyHash string
	// AccessKeyID is the demo principal's AWS-style access key id.
	AccessKeyID string
	AuditDir    string
	// DataDir is the nodes' data directory (server.data_dir), where
	// created application profiles persist. The demo keeps it in its own
	// directory, never in the current one.
	DataDir string
	// Link names the demo's CA and node certificates; a zero value runs
	// the link without TLS (development only).
	Link pki.LinkConfig
}

// Topology returns the demo topology's YAML and its parsed config.
func Topology(opts TopologyOptions) ([]byte, *topology.Config, error) {
	t, err := template.New("topology").Funcs(template.FuncMap{"add": func(a, b int) int { return a + b },
		"chatCapabilities": func() string { return strings.Join(ChatCapabilities(), ", ") }}).Parse(topologyTemplate)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	err = t.Execute(&buf, map[string]any{
		"BasePort": opts.BasePort, "Regions": Regions, "Deployments": deployments, "Embeddings": embeddingRegions, "KeyHash": opts.KeyHash,
		"AuditDir": opts.AuditDir, "DataDir": opts.DataDir, "AccessKeyID": opts.AccessKeyID, "Link": opts.Link, "InsecureLink": opts.Link.CAFile == "",
	})
	if err != nil {
		return nil, nil, err
	}
	cfg, err := topology.Parse(buf.Bytes(), "demo topology")
	if err != nil {
		return nil, nil, fmt.Errorf("demo topology: %w", err)
	}
	return buf.Bytes(), cfg, nil
}
