package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/testenv"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSignals: SIGHUP reloads the topology file of a running `serve` (an
// invalid file is refused and the running topology kept) and never kills
// the process; SIGTERM drains and serve returns.
func TestSignals(t *testing.T) {
	dir := t.TempDir()
	key, _ := auth.NewKey()
	listen, link := freeAddr(t), freeAddr(t)
	topo := func(apps string) string {
		return fmt.Sprintf(`account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: %q, link: %q}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
principals:
  - {id: tester, api_keys: [%q]}
link: {insecure_dev_link: true}
audit: {dir: %q}
server: {data_dir: %q, drain_grace: 0s}
%s`, listen, link, auth.HashKey(key), filepath.Join(dir, "audit"), filepath.Join(dir, "data"), apps)
	}
	path := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(path, []byte(topo("")), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, stop := notifySignals(t.Context())
	defer stop()
	var logs testenv.Log
	served := make(chan error, 1)
	go func() {
		served <- run(ctx, []string{"serve", "--config", path, "--region", "eu-west-1", "--dev", "--log-level", "info"}, io.Discard, &logs)
	}()
	models := func() string {
		req, _ := http.NewRequest("GET", "http://"+listen+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	logs.Await(t, "start", "node started", nil)
	if m := models(); !strings.Contains(m, "eu.demo.chat-small") {
		t.Fatalf("GET /v1/models on a started node = %q, want eu.demo.chat-small", m)
	}

	// An invalid file is refused, with its field path, and nothing changes.
	os.WriteFile(path, []byte(topo("profiles: {application: [{id: eu.evil, copy_from: eu.demo.chat-small}]}\n")), 0o644)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	logs.Await(t, "refusal", "topology reload refused", nil)
	if l := logs.String(); !strings.Contains(l, "profiles.application[0].id") {
		t.Errorf("refusal log lacks the field path:\n%s", l)
	}
	if strings.Contains(models(), "eu.evil") {
		t.Error("eu.evil served after a refused reload")
	}

	os.WriteFile(path, []byte(topo("profiles: {application: [{id: claims, copy_from: eu.demo.chat-small}]}\n")), 0o644)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	// The node logs the reload once the new topology is in place.
	logs.Await(t, "reload", "topology reloaded", nil)
	if l := logs.String(); !strings.Contains(l, "+claims") {
		t.Errorf("reload log lacks the change:\n%s", l)
	}
	if m := models(); !strings.Contains(m, `"claims"`) {
		t.Errorf("GET /v1/models after the reload = %q, want the new profile claims", m)
	}

	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve after SIGTERM = %v, want nil", err)
		}
	case <-time.After(30 * time.Second): // a hang guard only
		t.Fatal("serve did not return after SIGTERM")
	}
	if l := logs.String(); !strings.Contains(l, "node draining") || !strings.Contains(l, "node stopped") {
		t.Errorf("drain not logged:\n%s", l)
	}
}

// TestServeDataDir: --data-dir is where the node keeps API-created
// application profiles (server.data_dir, overridden per replica).
func TestServeDataDirFlag(t *testing.T) {
	_, stderr, err := runCLI(t, "serve", "-h")
	if err != nil && !strings.Contains(stderr, "data-dir") {
		t.Fatalf("serve -h: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "-data-dir") {
		t.Errorf("serve -h lacks --data-dir:\n%s", stderr)
	}
}
