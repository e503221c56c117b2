package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"sync"
	"time"
)

// The gateway process (see [ClusterOptions.GatewayProcess]) runs the bare
// proxy and both Meridian nodes apart from the load generator. It is this
// package's own protocol between the bench and a child it started, over
// the child's standard input and output, one JSON value a line:
//
//  1. the bench writes a [gatewayConfig];
//  2. the child starts the proxy and the nodes in front of the upstream
//     named there (a loopback URL), waits until the source node forwards,
//     and writes a [gatewayHello] with their addresses and API keys (or
//     the error that stopped it, and exits);
//  3. then, for each [gatewayRequest] the bench writes, the child writes
//     one [gatewayReply]; "stop", or the end of its input (the bench
//     closed it, or died), stops everything and the child exits.
//
// The bench measures the child's CPU from outside (see [procCPU]), so no
// request is needed around a measurement; the control requests run between
// measurements only.

// gatewayConfig is what the gateway process starts.
type gatewayConfig struct {
	// Upstream is the mockllm base URL, on loopback.
	Upstream string `json:"upstream"`
	// Capacity is each deployment's max_concurrency.
	Capacity int `json:"capacity"`
	// Without is [ClusterOptions.Without].
	Without []string `json:"without,omitempty"`
	// LogsFD, if 3 or above, is an inherited file descriptor the nodes'
	// JSON logs go to; else they are formatted and discarded.
	LogsFD int `json:"logs_fd,omitempty"`
}

// gatewayHello is the gateway process's first line: where it serves, or why
// it could not start.
type gatewayHello struct {
	Proxy        string `json:"proxy,omitempty"`
	Source       string `json:"source,omitempty"`
	LocalKey     string `json:"local_key,omitempty"`
	ForwardedKey string `json:"forwarded_key,omitempty"`
	Error        string `json:"error,omitempty"`
}

// The control requests of the gateway process.
const (
	// opCloseIdle is [Cluster.CloseIdleUpstreamConnections].
	opCloseIdle = "close-idle"
	// opQuiesce closes the nodes' idle backend and link connections.
	opQuiesce = "quiesce"
	// opMemory samples the process's memory and goroutines ([memSample]).
	opMemory = "memory"
	// opHeapProfile returns a pprof heap profile in Data.
	opHeapProfile = "heap-profile"
	// opCPUProfileStart and opCPUProfileStop profile the process's CPU;
	// the stop returns the profile in Data.
	opCPUProfileStart = "cpu-profile-start"
	opCPUProfileStop  = "cpu-profile-stop"
	// opStop stops the proxy and the nodes; the process exits.
	opStop = "stop"
)

// gatewayRequest is one control request.
type gatewayRequest struct {
	Op string `json:"op"`
	// Free, for opMemory, collects and returns freed memory to the OS
	// before the sample.
	Free bool `json:"free,omitempty"`
}

// gatewayReply answers one request.
type gatewayReply struct {
	Error  string    `json:"error,omitempty"`
	Memory memSample `json:"memory"`
	Data   []byte    `json:"data,omitempty"`
}

// memSample is a process's memory and goroutines at one moment.
type memSample struct {
	// RSS is the resident set (VmRSS).
	RSS int64 `json:"rss"`
	// Heap is the Go heap in use (runtime.MemStats.HeapInuse).
	Heap int64 `json:"heap"`
	// Stacks and Objects are as [memClasses] reads them.
	Stacks     int64 `json:"stacks"`
	Objects    int64 `json:"objects"`
	Goroutines int   `json:"goroutines"`
}

// ServeGateway is the gateway process's side (see [ClusterOptions.GatewayProcess]):
// it reads its configuration from in, starts the bare proxy and both
// nodes on 127.0.0.1, writes where they serve to out and answers the
// control requests that follow until "stop", the end of in, or ctx ends;
// it stops them before it returns. meridian bench runs it as the hidden
// command "bench serve-gateway" of its own binary.
func ServeGateway(ctx context.Context, in io.Reader, out io.Writer) error {
	dec, enc := json.NewDecoder(in), json.NewEncoder(out)
	var cfg gatewayConfig
	if err := dec.Decode(&cfg); err != nil {
		return fmt.Errorf("bench gateway: read the configuration: %w", err)
	}
	fail := func(err error) error {
		enc.Encode(gatewayHello{Error: err.Error()})
		return err
	}
	if err := checkLoopbackURL(cfg.Upstream); err != nil {
		return fail(fmt.Errorf("bench gateway: upstream: %w", err))
	}
	if cfg.Capacity <= 0 {
		cfg.Capacity = 4096
	}
	opts := ClusterOptions{Capacity: cfg.Capacity, Without: cfg.Without}
	if cfg.LogsFD >= 3 {
		f := os.NewFile(uintptr(cfg.LogsFD), "logs")
		defer f.Close()
		opts.Logs = f
	}
	dir, err := os.MkdirTemp("", "meridian-bench-gateway-")
	if err != nil {
		return fail(err)
	}
	c := &Cluster{Upstream: cfg.Upstream, dir: dir, tmp: true}
	defer c.Close()
	if err := c.startGateway(ctx, opts); err != nil {
		return fail(fmt.Errorf("bench gateway: %w", err))
	}
	if err := enc.Encode(gatewayHello{Proxy: c.Proxy, Source: c.Source, LocalKey: c.LocalKey, ForwardedKey: c.ForwardedKey}); err != nil {
		return err
	}
	reqs := make(chan gatewayRequest)
	go func() {
		defer close(reqs)
		for {
			var r gatewayRequest
			if err := dec.Decode(&r); err != nil {
				return // the bench closed its end, or is gone
			}
			select {
			case reqs <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	var prof *bytes.Buffer
	defer func() {
		if prof != nil {
			pprof.StopCPUProfile()
		}
	}()
	for {
		var r gatewayRequest
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case r, ok = <-reqs:
		}
		if !ok || r.Op == opStop {
			return nil
		}
		var rep gatewayReply
		switch r.Op {
		case opCloseIdle:
			c.CloseIdleUpstreamConnections()
		case opQuiesce:
			quiesceNodes(c.Nodes)
		case opMemory:
			rep.Memory = localMemSample(r.Free)
		case opHeapProfile:
			var b bytes.Buffer
			if err := pprof.Lookup("heap").WriteTo(&b, 0); err != nil {
				rep.Error = err.Error()
			}
			rep.Data = b.Bytes()
		case opCPUProfileStart:
			if prof != nil {
				rep.Error = "a CPU profile is already running"
				break
			}
			prof = new(bytes.Buffer)
			if err := pprof.StartCPUProfile(prof); err != nil {
				prof, rep.Error = nil, err.Error()
			}
		case opCPUProfileStop:
			if prof == nil {
				rep.Error = "no CPU profile is running"
				break
			}
			pprof.StopCPUProfile()
			rep.Data, prof = prof.Bytes(), nil
		default:
			rep.Error = fmt.Sprintf("unknown request %q", r.Op)
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
}

// checkLoopbackURL refuses a base URL that is not http:// on a loopback
// address: the gateway process sends load to its upstream.
func checkLoopbackURL(base string) error {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%q is not an http:// base URL", base)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address", u.Host)
	}
	return nil
}

// gatewayProcess is the bench's side of a running gateway process.
type gatewayProcess struct {
	proc  *upstreamProcess
	hello gatewayHello

	mu     sync.Mutex // one control request at a time
	in     *os.File   // the process's standard input
	out    *os.File   // its standard output
	enc    *json.Encoder
	dec    *json.Decoder
	broken error // set once a request failed on the pipe: no more

	logsDone chan struct{} // closed once the logs' copy ended; nil without logs
	stopOnce sync.Once
}

// gatewayStarted, if set (by tests), is called with the gateway process's
// pid once it has said where it serves.
var gatewayStarted func(pid int)

// gatewayReplyTimeout bounds a control request and the start: a hang
// guard, after which the process is killed.
const gatewayReplyTimeout = time.Minute

// startGatewayProcess starts argv (see [ClusterOptions.GatewayProcess])
// with cfg and returns once it serves, or with why it did not (the process
// is then gone). logs, if not nil, receives the nodes' JSON logs.
func startGatewayProcess(ctx context.Context, argv []string, cfg gatewayConfig, logs io.Writer) (g *gatewayProcess, err error) {
	if err := checkLoopbackURL(cfg.Upstream); err != nil {
		return nil, fmt.Errorf("bench: gateway process upstream: %w", err)
	}
	p := &upstreamProcess{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan struct{})}
	p.cmd.Stderr = &p.output
	// Pipes of our own rather than the command's: the reaper's Wait
	// would close those, racing a read of the process's last words.
	var theirs []*os.File
	defer func() {
		for _, f := range theirs {
			f.Close() // the process has its copies
		}
	}()
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	theirs = append(theirs, inR, outW)
	g = &gatewayProcess{proc: p, in: inW, out: outR, enc: json.NewEncoder(inW), dec: json.NewDecoder(outR)}
	p.cmd.Stdin, p.cmd.Stdout = inR, outW
	var logsR *os.File
	if logs != nil {
		r, w, err := os.Pipe()
		if err != nil {
			inW.Close()
			outR.Close()
			return nil, err
		}
		theirs = append(theirs, w)
		logsR = r
		p.cmd.ExtraFiles = []*os.File{w}
		cfg.LogsFD = 3
	}
	if err := p.start(); err != nil {
		inW.Close()
		outR.Close()
		if logsR != nil {
			logsR.Close()
		}
		return nil, fmt.Errorf("bench: start the gateway process: %w", err)
	}
	for _, f := range theirs {
		f.Close() // the process has its copies; its exit now ends our reads
	}
	theirs = nil
	if logsR != nil {
		g.logsDone = make(chan struct{})
		go func() {
			defer close(g.logsDone)
			defer logsR.Close()
			io.Copy(logs, logsR)
		}()
	}
	started := g
	defer func() {
		if err != nil {
			started.stop() // the returns set g to nil
		}
	}()
	// The configuration, then the hello; the process's exit, the
	// context's end or the hang guard ends the wait.
	var h gatewayHello
	got := g.exchange(cfg, &h)
	timer := time.NewTimer(gatewayReplyTimeout)
	defer timer.Stop()
	select {
	case err := <-got:
		switch {
		case err != nil:
			return nil, g.exitError(err)
		case h.Error != "":
			return nil, fmt.Errorf("bench: the gateway process: %s", h.Error)
		}
		g.hello = h
	case <-p.done:
		return nil, g.exitError(errors.New("exited"))
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-timer.C:
		return nil, errors.New("bench: the gateway process did not say where it serves within a minute")
	}
	for _, u := range []string{g.hello.Proxy, g.hello.Source} {
		if err := checkLoopbackURL(u); err != nil {
			return nil, fmt.Errorf("bench: the gateway process serves on %w", err)
		}
	}
	if gatewayStarted != nil {
		gatewayStarted(p.cmd.Process.Pid)
	}
	return g, nil
}

// watch returns a context derived from ctx that ends, with the process's
// exit as its cause (see [context.Cause]), should the process exit before
// the returned stop is called: a gateway that crashed ends the run at
// once, saying why, instead of every remaining step failing.
func (g *gatewayProcess) watch(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	go func() {
		select {
		case <-g.proc.done:
			cancel(fmt.Errorf("bench: the gateway process exited under the load (%v): %s", g.proc.err, firstAndLast(g.proc.output.Bytes())))
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(nil) }
}

// exitError describes a failed exchange: the process's exit and what it
// said when it has exited (give the exit a moment to be reaped), else err.
func (g *gatewayProcess) exitError(err error) error {
	select {
	case <-g.proc.done:
		return fmt.Errorf("bench: the gateway process exited (%v): %s", g.proc.err, firstAndLast(g.proc.output.Bytes()))
	case <-time.After(time.Second):
		return fmt.Errorf("bench: the gateway process: %w", err)
	}
}

// exchange writes v as one line to the process's input and decodes its
// next line into into, in a goroutine of its own, so that the caller can
// wait for it beside the process's exit, a context or a timer; the
// channel receives the outcome, after which into holds the reply. A
// caller that stops waiting must not read into.
func (g *gatewayProcess) exchange(v, into any) <-chan error {
	ch := make(chan error, 1)
	go func() {
		err := g.enc.Encode(v)
		if err == nil {
			err = g.dec.Decode(into)
		}
		ch <- err
	}()
	return ch
}

// call sends one control request and returns the reply. A process that
// does not answer within [gatewayReplyTimeout] is killed.
func (g *gatewayProcess) call(req gatewayRequest) (gatewayReply, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.broken != nil {
		return gatewayReply{}, g.broken
	}
	var r gatewayReply
	ch := g.exchange(req, &r)
	timer := time.NewTimer(gatewayReplyTimeout)
	defer timer.Stop()
	select {
	case err := <-ch:
		if err != nil {
			g.broken = g.exitError(err)
			return gatewayReply{}, g.broken
		}
		if r.Error != "" {
			return r, fmt.Errorf("bench: the gateway process: %s: %s", req.Op, r.Error)
		}
		return r, nil
	case <-timer.C:
		g.proc.cmd.Process.Kill()
		<-ch // the pipe ends with the process
		g.broken = fmt.Errorf("bench: the gateway process did not answer %s within %s", req.Op, gatewayReplyTimeout)
		return gatewayReply{}, g.broken
	}
}

// stop asks the process to stop, closes its input (which stops it too)
// and waits for it, killing it if it has not exited within 10 seconds (its
// nodes take up to 5 to shut down).
func (g *gatewayProcess) stop() {
	g.stopOnce.Do(func() {
		// Not under mu: a request hung on a stuck process holds it. A
		// stop written while a request is under way is read as the
		// next request, after that one's answer.
		g.in.Write([]byte(`{"op":"stop"}` + "\n"))
		g.in.Close()
		select {
		case <-g.proc.done:
		case <-time.After(10 * time.Second):
			g.proc.cmd.Process.Kill()
			<-g.proc.done
		}
		g.out.Close()
		if g.logsDone != nil {
			<-g.logsDone
		}
	})
}
