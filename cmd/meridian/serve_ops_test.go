package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/testenv"
)

// TestServeOpsListenFlag: --ops-listen opens the unauthenticated metrics
// and probe listener whatever the topology says (a pod binds 0.0.0.0 while
// the shared topology names no ops listener), and --listen and --link
// override the region's addresses for binding.
func TestServeOpsListenFlag(t *testing.T) {
	dir := t.TempDir()
	listen, link, ops := freeAddr(t), freeAddr(t), freeAddr(t)
	topo := fmt.Sprintf(`account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "meridian.example.internal:8080", link: "meridian-link.example.internal:9443"}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
link: {insecure_dev_link: true}
audit: {dir: %q}
server: {data_dir: %q, drain_grace: 0s}
`, filepath.Join(dir, "audit"), filepath.Join(dir, "data"))
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(topo), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	var logs testenv.Log
	served := make(chan error, 1)
	go func() {
		served <- run(ctx, []string{"serve", "--config", path, "--region", "eu-west-1", "--dev",
			"--listen", listen, "--link", link, "--ops-listen", ops}, io.Discard, &logs)
	}()
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	logs.Await(t, "start", "node started", nil)
	if code, body := get("http://" + ops + "/readyz"); code != 200 {
		t.Errorf("GET /readyz on --ops-listen of a started node = %d %q, want 200", code, body)
	}
	if code, body := get("http://" + ops + "/metrics"); code != 200 || !strings.Contains(body, "meridian_in_flight_requests") {
		t.Errorf("GET /metrics on --ops-listen = %d, want 200 with meridian metrics, unauthenticated", code)
	}
	if code, _ := get("http://" + listen + "/metrics"); code != 401 {
		t.Errorf("GET /metrics on --listen = %d, want 401 (the client listener needs a principal)", code)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve after cancel = %v, want nil", err)
		}
	case <-time.After(30 * time.Second): // a hang guard only
		t.Fatal("serve did not return")
	}
}
