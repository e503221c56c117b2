package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
)

// syncBuffer is a bytes.Buffer safe for the node's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// eventually polls cond until it holds; the deadline is a hang guard only.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
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
	var logs syncBuffer
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
	eventually(t, "the node to serve", func() bool { return strings.Contains(models(), "eu.demo.chat-small") })

	// An invalid file is refused, with its field path, and nothing changes.
	os.WriteFile(path, []byte(topo("profiles: {application: [{id: eu.evil, copy_from: eu.demo.chat-small}]}\n")), 0o644)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	eventually(t, "the refusal to be logged", func() bool { return strings.Contains(logs.String(), "topology reload refused") })
	if l := logs.String(); !strings.Contains(l, "profiles.application[0].id") {
		t.Errorf("refusal log lacks the field path:\n%s", l)
	}
	if strings.Contains(models(), "eu.evil") {
		t.Error("eu.evil served after a refused reload")
	}

	os.WriteFile(path, []byte(topo("profiles: {application: [{id: claims, copy_from: eu.demo.chat-small}]}\n")), 0o644)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	eventually(t, "the new profile to be served", func() bool { return strings.Contains(models(), `"claims"`) })
	// The node logs the reload once the new topology is in place, so the
	// line may follow the first answer that shows it: wait for it, then
	// check what it says.
	eventually(t, "the reload to be logged", func() bool { return strings.Contains(logs.String(), "topology reloaded") })
	if l := logs.String(); !strings.Contains(l, "+claims") {
		t.Errorf("reload log lacks the change:\n%s", l)
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
