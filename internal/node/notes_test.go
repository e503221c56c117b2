package node

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/meridian-gateway/meridian/internal/topology"
)

// lockedBuffer is a log sink the node's goroutines may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTopologyNotesAreLogged: what validation notes of a topology without
// refusing it (a policy naming a Bedrock action Meridian never authorizes)
// is logged when the node starts with it and when a reload takes it, as
// config validate prints it.
func TestTopologyNotesAreLogged(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	topologyWith := func(action string) *topology.Config {
		t.Helper()
		y := fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
audit: { disabled: true }
server: { data_dir: %q }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [ { id: m } ]
deployments: [ { model: m, region: eu-west-1, backend: { type: mock } } ]
principals: [ { id: p, policies: [invoke] } ]
policies:
  invoke:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: ["bedrock:InvokeModel", %q], Resource: "*" }
`, dataDir, action)
		cfg, err := topology.Parse([]byte(y), "notes.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Notes()) == 0 {
			t.Fatalf("%s gives no note", action)
		}
		return cfg
	}
	var logs lockedBuffer
	n, err := New(Options{Config: topologyWith("bedrock:UntagResource"), Region: "eu-west-1", Dev: true,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); !strings.Contains(got, "topology note") || !strings.Contains(got, "bedrock:UntagResource") {
		t.Errorf("start logged no note of bedrock:UntagResource:\n%s", got)
	}
	if err := n.Reload(topologyWith("bedrock:ListFoundationModels")); err != nil {
		t.Fatal(err)
	}
	if got := logs.String(); !strings.Contains(got, "bedrock:ListFoundationModels") {
		t.Errorf("reload logged no note of bedrock:ListFoundationModels:\n%s", got)
	}
}
