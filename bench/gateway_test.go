package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/trace"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// gatewayChildEnv makes this test binary the gateway process: "serve" runs
// [ServeGateway] on its standard input and output instead of the tests,
// "refuse" exits at once with a complaint, as a binary that cannot be the
// gateway would.
const gatewayChildEnv = "MERIDIAN_BENCH_TEST_GATEWAY"

func TestMain(m *testing.M) {
	switch os.Getenv(gatewayChildEnv) {
	case "serve":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		err := ServeGateway(ctx, os.Stdin, os.Stdout)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	case "refuse":
		fmt.Fprintln(os.Stderr, "gateway: refusing to start for the test")
		os.Exit(2)
	case "bench":
		// A bench that starts a gateway process, says its pid, and waits
		// to be killed.
		os.Setenv(gatewayChildEnv, "serve")
		exe, _ := os.Executable()
		c, err := StartCluster(context.Background(), ClusterOptions{Upstream: UpstreamConfig(4), GatewayProcess: []string{exe}})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(c.GatewayPID())
		select {}
	}
	os.Exit(m.Run())
}

// gatewayArgv returns the command line of a gateway process (this test
// binary, see [TestMain]) in mode ("serve" or "refuse").
func gatewayArgv(t *testing.T, mode string) []string {
	t.Helper()
	t.Setenv(gatewayChildEnv, mode) // inherited by the child
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return []string{exe}
}

// watchGateways records the pid of every gateway process started until the
// test ends, calling also (if not nil) with each.
func watchGateways(t *testing.T, also func(pid int)) func() []int {
	var mu sync.Mutex
	var pids []int
	gatewayStarted = func(pid int) {
		mu.Lock()
		pids = append(pids, pid)
		mu.Unlock()
		if also != nil {
			also(pid)
		}
	}
	t.Cleanup(func() { gatewayStarted = nil })
	return func() []int {
		mu.Lock()
		defer mu.Unlock()
		return append([]int(nil), pids...)
	}
}

// checkGone fails the test for each pid that still names a process: a
// gateway process must be reaped by the time the bench returns.
func checkGone(t *testing.T, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("gateway process %d outlived the bench (kill 0: %v)", pid, err)
		}
	}
}

// TestGatewayProcessRun runs every phase with the gateway in a process of
// its own: the report says so, every path answers, the gateways' CPU is
// the child's, the streams' goroutines are the child's (each open stream
// holds at least one there), the CPU profile is the child's, and no child
// is left once Run returns.
func TestGatewayProcessRun(t *testing.T) {
	argv := gatewayArgv(t, "serve")
	started := watchGateways(t, nil)
	var prof, progress bytes.Buffer
	// A peer without a process id is not measured in this layout: its
	// CPU would be the load generator's.
	nopid := Peer{Name: "nopid", Start: func(context.Context, string) (string, http.Header, func(), error) {
		t.Error("peer without a process id started")
		return "", nil, nil, errors.New("not to be started")
	}}
	rep, err := Run(t.Context(), Options{Step: 200 * time.Millisecond, Sequential: 20, StartRate: 40, MaxRate: 60, MaxSweep: 5 * time.Second,
		Refine: -1, Timeout: 30 * time.Second, MaxTokens: 8, Concurrency: []int{1, 8}, ConcurrencyStep: 100 * time.Millisecond,
		Streams: 40, GatewayProcess: argv, CPUProfile: &prof, Peers: []Peer{nopid}, Progress: &progress})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(progress.String(), "peer nopid not measured") {
		t.Errorf("progress does not say the peer without a process id was not measured:\n%s", progress.String())
	}
	if !rep.Settings.GatewayProcess {
		t.Error("settings.gateway_process = false, want true")
	}
	want := []string{Direct, BareProxy, MeridianLocal, MeridianForwarded}
	for _, m := range rep.Modes {
		if len(m.Scenarios) != len(want) {
			t.Fatalf("%s: %d scenarios, want %d", m.Mode, len(m.Scenarios), len(want))
		}
		for _, s := range m.Scenarios {
			if s.Sequential.Requests != 20 || s.Sequential.Errors != 0 || s.AtRate.Requests == 0 || s.AtRate.Errors != 0 {
				t.Errorf("%s %s: sequential %d requests, %d errors; at rate %d, %d errors (%s); want 20, 0; some, 0",
					m.Mode, s.Name, s.Sequential.Requests, s.Sequential.Errors, s.AtRate.Requests, s.AtRate.Errors, s.AtRate.FirstError)
			}
			if s.Name != Direct && s.AtRate.CPUSecondsPer1k <= 0 {
				t.Errorf("%s %s: CPU s/1k %g at rate, want the gateway process's, above 0", m.Mode, s.Name, s.AtRate.CPUSecondsPer1k)
			}
			if s.AtRate.PeakRSSBytes <= 0 {
				t.Errorf("%s %s: no peak RSS of the gateway process", m.Mode, s.Name)
			}
		}
		checkConcurrency(t, m, []int{1, 8}, want)
	}
	s := rep.Streams
	if s == nil || !s.GatewayProcess || s.Open != 40 || s.Errors != 0 || s.Forwarded == nil || s.Forwarded.Errors != 0 {
		t.Fatalf("streams = %+v, want 40 open through the gateway process, local and forwarded, no errors", s)
	}
	if s.Goroutines < s.DirectGoroutines+s.Streams || s.Forwarded.Goroutines < s.DirectGoroutines+s.Streams {
		t.Errorf("gateway process goroutines: %d local, %d forwarded, %d with the streams sent direct; want at least one more per stream",
			s.Goroutines, s.Forwarded.Goroutines, s.DirectGoroutines)
	}
	if s.RSSBytes <= 0 || s.DirectRSSBytes <= 0 {
		t.Errorf("gateway process RSS %d, direct %d: want both sampled", s.RSSBytes, s.DirectRSSBytes)
	}
	if prof.Len() == 0 {
		t.Error("no CPU profile of the gateway process")
	}
	var tab bytes.Buffer
	if err := rep.WriteTable(&tab); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"in a process of their own", "gateway process RSS"} {
		if !strings.Contains(tab.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, tab.String())
		}
	}
	if pids := started(); len(pids) != 2 {
		t.Errorf("%d gateway processes started, want 2 (latency phases, streams)", len(pids))
	}
	checkGone(t, started())
}

// TestGatewayProcessEndsWithTheBench: whichever way a run ends early, no
// gateway process outlives it: the context cancelled once the gateway
// serves, the gateway killed under the bench (the warm-up fails), a
// failure of the bench itself after the gateway started (a trace already
// running), and a gateway that cannot start (its complaint is the error).
func TestGatewayProcessEndsWithTheBench(t *testing.T) {
	tests := []struct {
		name    string
		mode    string
		onStart func(pid int, cancel context.CancelFunc)
		setup   func(t *testing.T) *Options
		want    string // in the error
	}{
		{name: "context cancelled", mode: "serve", onStart: func(_ int, cancel context.CancelFunc) { cancel() }, want: "context canceled"},
		{name: "gateway killed", mode: "serve", onStart: func(pid int, _ context.CancelFunc) { syscall.Kill(pid, syscall.SIGKILL) }, want: "gateway process exited"},
		{name: "bench fails after the start", mode: "serve", setup: func(t *testing.T) *Options {
			if err := trace.Start(io.Discard); err != nil {
				t.Skipf("a trace is already running: %v", err)
			}
			t.Cleanup(trace.Stop)
			return &Options{Trace: io.Discard}
		}, want: "trac"},
		{name: "gateway cannot start", mode: "refuse", want: "refusing to start"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			argv := gatewayArgv(t, tc.mode)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			started := watchGateways(t, func(pid int) {
				if tc.onStart != nil {
					tc.onStart(pid, cancel)
				}
			})
			o := Options{}
			if tc.setup != nil {
				o = *tc.setup(t)
			}
			o.Step, o.Sequential, o.Rate, o.Timeout, o.MaxTokens = 100*time.Millisecond, 5, 20, 5*time.Second, 4
			o.Concurrency, o.Modes, o.GatewayProcess = []int{}, []string{"non-streaming"}, argv
			_, err := Run(ctx, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run: err = %v, want one mentioning %q", err, tc.want)
			}
			if tc.mode == "serve" && len(started()) == 0 {
				t.Error("no gateway process started")
			}
			checkGone(t, started())
		})
	}
}

// TestGatewayProcessEndsWithItsInput: a gateway process whose control
// channel closes (the bench is gone, on a system without a parent-death
// signal too) stops and exits on its own.
func TestGatewayProcessEndsWithItsInput(t *testing.T) {
	argv := gatewayArgv(t, "serve")
	c, err := StartCluster(t.Context(), ClusterOptions{Upstream: UpstreamConfig(4), GatewayProcess: argv})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pid := c.GatewayPID()
	if pid <= 0 || len(c.Nodes) != 0 {
		t.Fatalf("gateway pid %d, %d nodes in this process; want a child and none here", pid, len(c.Nodes))
	}
	c.gateway.in.Close()
	select {
	case <-c.gateway.proc.done:
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("the gateway process did not exit when its input closed")
	}
	if c.gateway.proc.err != nil {
		t.Errorf("the gateway process exited with %v: %s", c.gateway.proc.err, c.gateway.proc.output.Bytes())
	}
	checkGone(t, []int{pid})
}

// TestGatewayProcessDiesWithTheBench: a bench killed outright (no deferred
// Close runs) takes its gateway process with it.
func TestGatewayProcessDiesWithTheBench(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	gatewayArgv(t, "bench")
	exe, _ := os.Executable()
	cmd := exec.Command(exe)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Fscan(out, &pid); err != nil || pid <= 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the bench did not say its gateway's pid (%v): %s", err, stderr.Bytes())
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		t.Fatalf("gateway process %d not running under its bench: %v", pid, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	// Gone, or a zombie waiting for whoever reaps orphans here.
	for deadline := time.Now().Add(time.Minute); ; { // a hang guard
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			break
		}
		if i := bytes.LastIndexByte(b, ')'); i > 0 && bytes.HasPrefix(b[i+1:], []byte(" Z")) {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("gateway process %d outlived its killed bench", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeGateway drives the gateway's side of the protocol in this
// process: it refuses a non-loopback upstream, says where it serves, and
// answers each control request, refusing what it cannot do.
func TestServeGateway(t *testing.T) {
	var out bytes.Buffer
	err := ServeGateway(t.Context(), strings.NewReader(`{"upstream":"http://192.0.2.1:80"}`+"\n"), &out)
	if err == nil || !strings.Contains(out.String(), "loopback") {
		t.Errorf("non-loopback upstream: err = %v, hello %q; want a refusal naming loopback", err, out.String())
	}

	up := &Cluster{}
	defer up.Close()
	base, err := up.serve(mockllm.New(UpstreamConfig(4)).Handler())
	if err != nil {
		t.Fatal(err)
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeGateway(t.Context(), inR, outW); outW.Close() }()
	enc, dec := json.NewEncoder(inW), json.NewDecoder(outR)
	if err := enc.Encode(gatewayConfig{Upstream: base}); err != nil {
		t.Fatal(err)
	}
	var hello gatewayHello
	if err := dec.Decode(&hello); err != nil || hello.Error != "" || checkLoopbackURL(hello.Source) != nil || checkLoopbackURL(hello.Proxy) != nil || hello.LocalKey == "" {
		t.Fatalf("hello = %+v, %v; want loopback addresses and keys", hello, err)
	}
	tests := []struct {
		op      string
		wantErr string
		check   func(r gatewayReply) error
	}{
		{op: opMemory, check: func(r gatewayReply) error {
			if r.Memory.Goroutines == 0 || r.Memory.Heap == 0 {
				return fmt.Errorf("memory %+v, want goroutines and heap", r.Memory)
			}
			return nil
		}},
		{op: opCloseIdle},
		{op: opQuiesce},
		{op: opHeapProfile, check: func(r gatewayReply) error {
			if len(r.Data) == 0 {
				return errors.New("no heap profile")
			}
			return nil
		}},
		{op: opCPUProfileStop, wantErr: "no CPU profile"},
		{op: "reboot", wantErr: "unknown request"},
	}
	for _, tc := range tests {
		if err := enc.Encode(gatewayRequest{Op: tc.op}); err != nil {
			t.Fatal(err)
		}
		var r gatewayReply
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%s: %v", tc.op, err)
		}
		if tc.wantErr != "" {
			if !strings.Contains(r.Error, tc.wantErr) {
				t.Errorf("%s: error %q, want %q", tc.op, r.Error, tc.wantErr)
			}
			continue
		}
		if r.Error != "" {
			t.Errorf("%s: error %q", tc.op, r.Error)
		} else if tc.check != nil {
			if err := tc.check(r); err != nil {
				t.Errorf("%s: %v", tc.op, err)
			}
		}
	}
	enc.Encode(gatewayRequest{Op: opStop})
	go io.Copy(io.Discard, outR)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ServeGateway after stop: %v", err)
		}
	case <-time.After(time.Minute): // a hang guard
		t.Fatal("ServeGateway did not return after stop")
	}
	inW.Close()
}

// TestProcCPU: the CPU clock of a process read from outside agrees with
// the process's own account (getrusage) and with /proc's ticks, and is 0
// for no process.
func TestProcCPU(t *testing.T) {
	// Some CPU to read.
	x := 0
	for i := range 20_000_000 {
		x += i % 7
	}
	_ = x
	before := cpuTime()
	got := procCPU(os.Getpid())
	after := cpuTime()
	const tick = 10 * time.Millisecond
	if got < before-tick || got > after+tick {
		t.Errorf("procCPU(self) = %s, want between getrusage's %s and %s", got, before, after)
	}
	if st := procStatCPU(os.Getpid()); st < got-2*tick || st > got+2*tick {
		t.Errorf("/proc/self/stat says %s, the clock %s: want them within two ticks", st, got)
	}
	for _, pid := range []int{0, -1} {
		if d := procCPU(pid); d != 0 {
			t.Errorf("procCPU(%d) = %s, want 0", pid, d)
		}
	}
}
