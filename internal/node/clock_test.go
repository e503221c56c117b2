package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestNodeClockReachesTheRequestPath: the one clock of node.Options
// reaches the request path down to the deployment (here the embedded
// simulated upstream, whose created the front end passes through), so a
// node under a manual clock answers in the manual clock's time, however
// far it is from the wall clock.
func TestNodeClockReachesTheRequestPath(t *testing.T) {
	dir := t.TempDir()
	key, _ := auth.NewKey()
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg, err := topology.Parse([]byte(fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
audit: { dir: %q }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: %q, link: %q }
models: [ { id: demo.chat-small } ]
deployments: [ { model: demo.chat-small, region: eu-west-1, backend: { type: mock, tokens_per_second: 0 } } ]
principals: [ { id: tester, api_keys: [%q] } ]
`, filepath.Join(dir, "audit"), cl.Addr(), ll.Addr(), auth.HashKey(key))), "clock.yaml")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll, DataDir: t.TempDir(), Clock: clock.NewManual(at)})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // hang guard only
		defer cancel()
		if err := n.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	url := "http://" + n.ClientAddr()
	for _, stream := range []bool{false, true} {
		st, _, body := postTo(t, url, key, chatBody("eu.demo.chat-small", stream))
		if st != 200 {
			t.Fatalf("stream %v: %d %s", stream, st, body)
		}
		doc := string(body)
		if stream { // the first chunk
			doc, _, _ = strings.Cut(strings.TrimPrefix(doc, "data: "), "\n")
		}
		var resp struct {
			Created int64 `json:"created"`
		}
		if err := json.Unmarshal([]byte(doc), &resp); err != nil {
			t.Fatalf("stream %v: decode %q: %v", stream, doc, err)
		}
		if resp.Created != at.Unix() {
			t.Errorf("stream %v: created = %d, want %d (the node's clock)", stream, resp.Created, at.Unix())
		}
	}
}
