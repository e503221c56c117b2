package ui_test

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/node/nodetest"
	"github.com/meridian-gateway/meridian/internal/topology"
	"github.com/meridian-gateway/meridian/internal/ui"
)

// TestNodeServesConsole runs a real node and checks the console's wiring:
// the page and the API on the client listener, a viewer key reading it, the
// node's records reaching the live view, and no operator actions outside
// the demo.
func TestNodeServesConsole(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("testdata/live/topology.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, []byte(`
principals:
  - { id: app, api_keys: ["`+auth.HashKey("app-key")+`"] }
  - { id: auditor, viewer: true, api_keys: ["`+auth.HashKey("viewer-key")+`"] }
`)...)
	cfg, err := topology.Parse(b, "testdata/live/topology.yaml + principals")
	if err != nil {
		t.Fatal(err)
	}
	client, link := listen(t), listen(t)
	n := nodetest.Start(t, node.Options{Config: cfg, Region: "eu-west-1", ClientListener: client, LinkListener: link, Dev: true})
	base := "http://" + n.ClientAddr()

	resp, body := do(t, "POST", base+"/v1/chat/completions", "app-key",
		`{"model":"eu.demo.chat-small","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("chat completion = %d %s, want 200", resp.StatusCode, trim(body))
	}
	id := resp.Header.Get("x-meridian-request-id")

	if resp, body := do(t, "GET", base+"/ui/", "", ""); resp.StatusCode != 200 || !strings.Contains(body, "Meridian console") {
		t.Errorf("GET /ui/ = %d, want the console page", resp.StatusCode)
	}
	if resp, body := do(t, "GET", base+"/meridian/v1/requests/"+id, "viewer-key", ""); resp.StatusCode != 200 || !strings.Contains(body, `"inferenceRegion":"eu-west-1"`) {
		t.Errorf("GET /meridian/v1/requests/%s as a viewer = %d %s, want 200 with the record", id, resp.StatusCode, trim(body))
	}
	if resp, _ := do(t, "POST", base+"/meridian/v1/demo/regions/eu-west-1", "app-key", `{"action":"down"}`); resp.StatusCode != 404 {
		t.Errorf("operator action on a node outside the demo = %d, want 404", resp.StatusCode)
	}

	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/meridian/v1/live", nil)
	req.Header.Set("Authorization", "Bearer viewer-key")
	live, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Body.Close()
	sc := bufio.NewScanner(live.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var f struct {
			ui.Frame
			State node.RegionsView `json:"state"`
		}
		if err := json.Unmarshal([]byte(data), &f); err != nil {
			t.Fatal(err)
		}
		if len(f.Recent) != 1 || f.Recent[0].RequestID != id || f.Recent[0].Principal != "app" {
			t.Errorf("frame's recent requests = %+v, want %s by app", f.Recent, id)
		}
		if len(f.State.Regions) != 6 || !slices.ContainsFunc(f.State.Regions, func(r node.RegionView) bool { return r.Self && r.ID == "eu-west-1" }) {
			t.Errorf("frame's state has %d regions, want 6 with eu-west-1 as self", len(f.State.Regions))
		}
		if len(f.Flows) != 1 || f.Flows[0].Destination != "eu-west-1" || f.Demo != nil {
			t.Errorf("frame's flows = %+v, demo = %v; want one flow into eu-west-1 and no demo", f.Flows, f.Demo)
		}
		return
	}
	t.Fatalf("live stream ended without a frame: %v", sc.Err())
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
