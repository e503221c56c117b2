package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// upstreamProcess is a child process of the bench: mockllm running as a
// process of its own (see [ClusterOptions.UpstreamProcess]), or the
// gateway's (see [gatewayProcess]).
type upstreamProcess struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	err    error         // its exit, once done is closed
	output lockedBuffer  // what it wrote to stderr
}

// startUpstreamProcess starts argv (a meridian binary and its "mockllm"
// command) configured as cfg, serving a loopback socket this process
// listens on and hands over as file descriptor 3: the address is known
// before the process starts, and a request sent while it starts waits in
// the socket's backlog. It returns once the upstream has answered its
// health check.
func startUpstreamProcess(ctx context.Context, argv []string, cfg mockllm.Config) (*upstreamProcess, string, error) {
	// Only what the command's flags can say may be set.
	rest := cfg
	rest.CompletionTokens, rest.Seed = 0, 0
	if !reflect.DeepEqual(rest, mockllm.Config{}) {
		return nil, "", errors.New("bench: an upstream in its own process takes only CompletionTokens and Seed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("bench: the upstream process's socket: %w", err)
	}
	addr := ln.Addr().String()
	f, err := ln.(*net.TCPListener).File()
	ln.Close() // the process's copy keeps the socket listening
	if err != nil {
		return nil, "", fmt.Errorf("bench: hand a socket to the upstream process (not supported on %s?): %w", runtime.GOOS, err)
	}
	args := append(argv[1:len(argv):len(argv)], "--listen", "fd:3", "--ttft", "0", "--tokens-per-second", "0",
		"--completion-tokens", strconv.Itoa(cfg.CompletionTokens), "--seed", strconv.FormatInt(cfg.Seed, 10), "--log-level", "warn")
	p := &upstreamProcess{cmd: exec.Command(argv[0], args...), done: make(chan struct{})}
	p.cmd.ExtraFiles = []*os.File{f}
	p.cmd.Stdout, p.cmd.Stderr = &p.output, &p.output
	err = p.start()
	f.Close() // the process has its copy
	if err != nil {
		return nil, "", fmt.Errorf("bench: start the upstream process: %w", err)
	}
	base := "http://" + addr
	if err := p.ready(ctx, base); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, base, nil
}

// start starts the process, which the kernel kills should this process
// die (where it can: see [upstreamProcAttr]), and reaps it when it exits.
func (p *upstreamProcess) start() error {
	p.cmd.SysProcAttr = upstreamProcAttr()
	// Linux's parent-death signal follows the thread that started the
	// process, not the process, and the runtime may end an idle thread: the
	// process is started and waited for by one goroutine locked to its
	// thread, so that thread lives as long as the process does.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return <-started
}

// ready checks the upstream's health, or returns why the process exited.
func (p *upstreamProcess) ready(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	go func() {
		select {
		case <-p.done: // a request would wait in the backlog until the time-out
			cancel()
		case <-ctx.Done():
		}
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		err = fmt.Errorf("health check answered %s", resp.Status)
	}
	// A process that accepted the check and then died fails it before
	// its exit is reaped: give the exit a moment, to report what it said.
	select {
	case <-p.done:
		return fmt.Errorf("bench: the upstream process exited (%v): %s", p.err, firstAndLast(p.output.Bytes()))
	case <-time.After(time.Second):
		return fmt.Errorf("bench: the upstream process: %w", err)
	}
}

// firstAndLast returns the first and the last non-empty line of out: what
// went wrong, and how the command summed it up (a usage error prints its
// whole usage in between).
func firstAndLast(out []byte) string {
	lines := strings.FieldsFunc(string(out), func(r rune) bool { return r == '\n' || r == '\r' })
	lines = slices.DeleteFunc(lines, func(l string) bool { return strings.TrimSpace(l) == "" })
	switch len(lines) {
	case 0:
		return "no output"
	case 1:
		return strings.TrimSpace(lines[0])
	}
	return strings.TrimSpace(lines[0]) + " … " + strings.TrimSpace(lines[len(lines)-1])
}

// stop interrupts the process and waits for it, killing it if it has not
// exited within 5 seconds.
func (p *upstreamProcess) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// lockedBuffer is a bytes.Buffer that the process's output copier and a
// reader may use at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 { // a bound: only the start explains a failure
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
