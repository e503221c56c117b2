package deploy

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/testenv"
)

// TestServeAsPID1 runs `meridian serve` as PID 1 of a new PID namespace,
// as the image's ENTRYPOINT runs in a container, and checks that it acts
// on the signals a container runtime sends: PID 1 gets no default signal
// actions from the kernel, so only signals the process handles itself
// work. SIGHUP reloads the topology; SIGTERM drains and exits 0.
func TestServeAsPID1(t *testing.T) {
	t.Parallel()
	unshare := testenv.LookPath(t, "unshare")
	if out, err := exec.Command(unshare, "--pid", "--fork", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a PID namespace here (%v: %s); skipping", err, bytes.TrimSpace(out))
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "meridian")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/meridian").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	listen, link, ops := freeAddr(t), freeAddr(t), freeAddr(t)
	topo := func(extra string) []byte {
		return fmt.Appendf(nil, `account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "meridian.example.internal:8080", link: "meridian-link.example.internal:9443"}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
link: {insecure_dev_link: true}
audit: {dir: %q}
server: {data_dir: %q, drain_grace: 0s}
%s`, filepath.Join(dir, "audit"), filepath.Join(dir, "data"), extra)
	}
	config := filepath.Join(dir, "topology.yaml")
	if err := os.WriteFile(config, topo(""), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a hang guard only
	defer cancel()
	var logs testenv.Log
	cmd := exec.CommandContext(ctx, unshare, "--pid", "--fork", "--kill-child", bin, "serve", "--config", config,
		"--region", "eu-west-1", "--dev", "--listen", listen, "--link", link, "--ops-listen", ops)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var waitErr error
	exited := make(chan struct{})
	go func() { waitErr = cmd.Wait(); close(exited) }()

	logs.Await(t, "start", "node started", exited)
	resp, err := http.Get("http://" + ops + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /readyz of a started node = %d, want 200", resp.StatusCode)
	}
	// The node is unshare's only child, and PID 1 in its namespace.
	pid := childOf(t, cmd.Process.Pid)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(status), "NSpid:\t"+strconv.Itoa(pid)+"\t1\n") {
		t.Fatalf("meridian is not PID 1 of its namespace:\n%s", status)
	}

	if err := os.WriteFile(config, topo("profiles: {application: [{id: claims, copy_from: eu.demo.chat-small}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.Await(t, "reload after SIGHUP", "topology reloaded", exited)

	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-exited // the context's deadline is the hang guard
	if waitErr != nil {
		t.Fatalf("meridian as PID 1 after SIGTERM: %v, want exit 0\n%s", waitErr, logs.String())
	}
	if l := logs.String(); !strings.Contains(l, "node draining") || !strings.Contains(l, "node stopped") {
		t.Errorf("SIGTERM did not drain:\n%s", l)
	}
}

// childOf returns the only child process of parent, from /proc.
func childOf(t *testing.T, parent int) int {
	t.Helper()
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []int
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue // gone meanwhile
		}
		if strings.Contains(string(status), "\nPPid:\t"+strconv.Itoa(parent)+"\n") {
			kids = append(kids, pid)
		}
	}
	if len(kids) != 1 {
		t.Fatalf("process %d has children %v, want one", parent, kids)
	}
	return kids[0]
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln := listen(t)
	defer ln.Close()
	return ln.Addr().String()
}
