package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/mockllm"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// The regions of the benchmark topology: the client calls the source
// region's node; "forwarded" requests are served by the peer's.
const (
	sourceRegion = "eu-west-1"
	peerRegion   = "eu-central-1"
	// profileID is the model every request names. mockllm echoes any model,
	// so the direct and bare-proxy requests carry the very same bytes.
	profileID = "eu.demo.chat-small"
)

// UpstreamConfig is the mockllm configuration of a run: zero think time
// (TTFT 0, unpaced tokens), a fixed completion length.
func UpstreamConfig(completionTokens int) mockllm.Config {
	return mockllm.Config{CompletionTokens: completionTokens, Seed: 1}
}

// ClusterOptions configure [StartCluster].
type ClusterOptions struct {
	// Upstream configures the shared mockllm.
	Upstream mockllm.Config
	// Logs receives the nodes' Info logs as JSON. If nil, they are
	// formatted and discarded (the cost of logging is still paid).
	Logs io.Writer
	// Capacity is each deployment's max_concurrency. If zero, 4096.
	Capacity int
	// Dir holds the link certificates and the audit trail. If empty, a
	// temporary directory removed by Close.
	Dir string
	// UpstreamProcess, if not empty, runs the upstream as a process of its
	// own instead of in this one: the command line of a meridian binary's
	// mockllm command (such as the running binary and "mockllm"); the
	// cluster adds the flags that configure it as Upstream, which may then
	// set only CompletionTokens and Seed. A model server does not share its
	// gateway's process; in one process the upstream's bursts compete with
	// the node for the Go scheduler.
	UpstreamProcess []string
	// GatewayProcess, if not empty, runs the bare proxy and both nodes in
	// a process of their own: the command line of a meridian binary's
	// hidden gateway command ("bench serve-gateway", see [ServeGateway]),
	// which starts them in front of the upstream, reports their addresses
	// and keys and then answers the bench's control requests. A deployed
	// gateway never shares its process with its clients; in one process
	// the load generator's goroutines, garbage and reads compete with the
	// paths under test for the scheduler and the collector, and the CPU of
	// a path is the whole process's. With it, [Cluster.Nodes] is empty and
	// [Cluster.GatewayPID] is the process whose CPU is the gateways'.
	GatewayProcess []string
	// Without turns features off to attribute their cost: "quota" (no
	// limits), "audit" (audit.disabled) and "logs" (no log handler). The
	// default, empty, keeps every feature on.
	Without []string
}

// Cluster is everything a run targets: the mockllm upstream, a bare reverse
// proxy in front of it, and two Meridian nodes, all on 127.0.0.1.
type Cluster struct {
	// Upstream, Proxy, Source are base URLs (no trailing slash).
	Upstream, Proxy, Source string
	// LocalKey and ForwardedKey are API keys of principals whose policies
	// let them run inference only in the source region, or only in the peer
	// region (so the source node forwards over the link).
	LocalKey, ForwardedKey string
	// Nodes are the source and peer nodes.
	Nodes []*node.Node
	// Mock is the upstream server; nil when it runs in a process of its
	// own (see [ClusterOptions.UpstreamProcess]).
	Mock *mockllm.Server

	servers  []*http.Server
	upstream *upstreamProcess
	gateway  *gatewayProcess
	// proxyPool is the bare proxy's transport to the upstream.
	proxyPool *http.Transport
	dir       string
	tmp       bool
}

// StartCluster starts the upstream, the bare proxy and both nodes, and waits
// until the source node forwards to its peer.
func StartCluster(ctx context.Context, opts ClusterOptions) (c *Cluster, err error) {
	if opts.Capacity == 0 {
		opts.Capacity = 4096
	}
	c = &Cluster{dir: opts.Dir}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "meridian-bench-"); err != nil {
			return nil, err
		}
		c.tmp = true
	}
	// A failed start stops what started (the returns below set c to nil).
	started := c
	defer func() {
		if err != nil {
			started.Close()
		}
	}()
	if len(opts.UpstreamProcess) > 0 {
		if c.upstream, c.Upstream, err = startUpstreamProcess(ctx, opts.UpstreamProcess, opts.Upstream); err != nil {
			return nil, err
		}
	} else {
		c.Mock = mockllm.New(opts.Upstream)
		if c.Upstream, err = c.serve(c.Mock.Handler()); err != nil {
			return nil, err
		}
	}
	if len(opts.GatewayProcess) > 0 {
		g, err := startGatewayProcess(ctx, opts.GatewayProcess, gatewayConfig{Upstream: c.Upstream, Capacity: opts.Capacity, Without: opts.Without}, opts.Logs)
		if err != nil {
			return nil, err
		}
		c.gateway = g
		c.Proxy, c.Source, c.LocalKey, c.ForwardedKey = g.hello.Proxy, g.hello.Source, g.hello.LocalKey, g.hello.ForwardedKey
		return c, nil
	}
	if err := c.startGateway(ctx, opts); err != nil {
		return nil, err
	}
	return c, nil
}

// startGateway starts the bare proxy and both nodes in this process in
// front of c.Upstream, and waits until the source node forwards to its
// peer.
func (c *Cluster) startGateway(ctx context.Context, opts ClusterOptions) (err error) {
	target, _ := url.Parse(c.Upstream)
	proxy := httputil.NewSingleHostReverseProxy(target)
	c.proxyPool = newTransport(1024)
	proxy.Transport = c.proxyPool
	proxy.FlushInterval = -1
	proxy.ErrorLog = log.New(io.Discard, "", 0) // its failures reach the client as errors
	// Full duplex: otherwise, when the upstream answers a stream before
	// the transport's final read of the request body (it reads once more
	// to check the body is not longer than its Content-Length), writing
	// the response headers drains and closes that body, the read fails,
	// and the transport cuts the upstream connection mid-stream. On a busy
	// machine that race is lost now and then, and the client sees an
	// unexpected EOF. Meridian is not exposed: it reads the whole body
	// before it sends anything upstream.
	duplex := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NewResponseController(w).EnableFullDuplex()
		proxy.ServeHTTP(w, r)
	})
	if c.Proxy, err = c.serve(duplex); err != nil {
		return err
	}
	if err := c.startNodes(ctx, opts); err != nil {
		return err
	}
	return c.waitForwarding(ctx)
}

func (c *Cluster) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: log.New(io.Discard, "", 0)}
	c.servers = append(c.servers, srv)
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

func (c *Cluster) startNodes(ctx context.Context, opts ClusterOptions) error {
	lc, err := pki.Provision(c.dir+"/pki", "", sourceRegion, peerRegion)
	if err != nil {
		return err
	}
	var lns []net.Listener
	for range 4 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return err
		}
		lns = append(lns, ln)
	}
	localKey, _ := auth.NewKey()
	fwdKey, _ := auth.NewKey()
	c.LocalKey, c.ForwardedKey = localKey, fwdKey
	var y strings.Builder
	fmt.Fprintf(&y, "account: \"111122223333\"\n")
	if slices.Contains(opts.Without, "audit") {
		y.WriteString("audit: {disabled: true}\n")
	} else {
		fmt.Fprintf(&y, "audit: {dir: %q, fsync: interval, fsync_interval: 100ms}\n", c.dir+"/audit")
	}
	fmt.Fprintf(&y, "link: {ca_file: %q, cert_file: %q, key_file: %q}\n", lc.CAFile, lc.CertFile, lc.KeyFile)
	y.WriteString("geographies:\n  eu: {name: EU}\nregions:\n")
	fmt.Fprintf(&y, "  - {id: %s, geography: eu, location: {lat: 53, lon: -6}, listen: %q, link: %q}\n", sourceRegion, lns[0].Addr(), lns[1].Addr())
	fmt.Fprintf(&y, "  - {id: %s, geography: eu, location: {lat: 50, lon: 8}, listen: %q, link: %q}\n", peerRegion, lns[2].Addr(), lns[3].Addr())
	y.WriteString("models:\n  - {id: demo.chat-small}\ndeployments:\n")
	for _, r := range []string{sourceRegion, peerRegion} {
		fmt.Fprintf(&y, "  - {model: demo.chat-small, region: %s, backend: {type: openai, url: %q, model: chat-small}, capacity: {max_concurrency: %d}}\n",
			r, c.Upstream+"/v1", opts.Capacity)
	}
	// Limits far above any benchmark rate: quota admission runs on every
	// request but never refuses one.
	limits := "{rpm: 100000000, tpm: 1000000000, max_concurrency: 100000}"
	if slices.Contains(opts.Without, "quota") {
		limits = "null"
	}
	y.WriteString("principals:\n")
	fmt.Fprintf(&y, "  - {id: bench-local, api_keys: [%q], policies: [invoke-in-source], limits: %s}\n", auth.HashKey(localKey), limits)
	fmt.Fprintf(&y, "  - {id: bench-forwarded, api_keys: [%q], policies: [invoke-in-peer], limits: %s}\n", auth.HashKey(fwdKey), limits)
	y.WriteString("policies:\n")
	for name, region := range map[string]string{"invoke-in-source": sourceRegion, "invoke-in-peer": peerRegion} {
		fmt.Fprintf(&y, `  %s:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/eu.*", "arn:aws:bedrock:%s::foundation-model/*"]
`, name, region)
	}
	cfg, err := topology.Parse([]byte(y.String()), "bench.yaml")
	if err != nil {
		return fmt.Errorf("bench topology: %w", err)
	}
	logs := opts.Logs
	if logs == nil {
		logs = io.Discard
	}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if slices.Contains(opts.Without, "logs") {
		logger = slog.New(slog.DiscardHandler)
	}
	for i, r := range []string{sourceRegion, peerRegion} {
		n, err := node.New(node.Options{Config: cfg, Region: r, ClientListener: lns[2*i], LinkListener: lns[2*i+1], Logger: logger})
		if err != nil {
			lns[2*i].Close()
			lns[2*i+1].Close()
			return err
		}
		if err := n.Start(ctx); err != nil {
			return err
		}
		c.Nodes = append(c.Nodes, n)
	}
	c.Source = "http://" + c.Nodes[0].ClientAddr()
	return nil
}

// waitForwarding sends forwarded requests until one is served by the peer:
// the link's connection is up and its TLS session warm.
func (c *Cluster) waitForwarding(ctx context.Context) error {
	cl := &http.Client{Transport: newTransport(4), Timeout: 5 * time.Second}
	defer cl.CloseIdleConnections()
	deadline := time.Now().Add(15 * time.Second)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "POST", c.Source+"/v1/chat/completions", strings.NewReader(string(RequestBody(false, 4))))
		req.Header.Set("Authorization", "Bearer "+c.ForwardedKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := cl.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && resp.Header.Get("X-Meridian-Inference-Region") == peerRegion {
				return nil
			}
			err = fmt.Errorf("status %d, inference region %q: %s", resp.StatusCode, resp.Header.Get("X-Meridian-Inference-Region"), b)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("source node does not forward to %s: %w", peerRegion, errors.Join(last, ctx.Err()))
}

// CloseIdleUpstreamConnections closes the idle connections the bare proxy
// and every node keep to their upstreams (and the nodes to each other on
// the link), so that every path starts a measurement alike (see
// [closeIdle]).
func (c *Cluster) CloseIdleUpstreamConnections() {
	if c.gateway != nil {
		c.gateway.call(gatewayRequest{Op: opCloseIdle})
		return
	}
	if c.proxyPool != nil {
		c.proxyPool.CloseIdleConnections()
	}
	for _, n := range c.Nodes {
		n.CloseIdleConnections()
	}
}

// GatewayPID is the process the bare proxy and the nodes run in: a child
// (see [ClusterOptions.GatewayProcess]), or 0 when they run in this one.
func (c *Cluster) GatewayPID() int {
	if c.gateway == nil {
		return 0
	}
	return c.gateway.proc.cmd.Process.Pid
}

// closeIdleNodeConnections closes the idle connections the nodes keep to
// their backends and on the link (after a streams wave, see
// [ConcurrentStreams]).
func (c *Cluster) closeIdleNodeConnections() {
	if c.gateway != nil {
		c.gateway.call(gatewayRequest{Op: opQuiesce})
		return
	}
	quiesceNodes(c.Nodes)
}

// quiesceNodes closes the idle connections of nodes to their backends and
// on the link.
func quiesceNodes(nodes []*node.Node) {
	for _, nd := range nodes {
		for _, b := range nd.Backends() {
			b.Close() // closes idle pooled connections only
		}
		// The link's pool keeps up to one idle connection per
		// forwarded stream it carried at once (at most 64 idle, of
		// which streams take 48): a few goroutines each, which the
		// count after a wave would take for a leak.
		nd.CloseIdleLinkConnections()
	}
}

// memory samples the memory and goroutines of the process the gateways
// run in (see [memSample]); free first collects and returns freed memory
// to the OS.
func (c *Cluster) memory(free bool) memSample {
	if c.gateway != nil {
		r, err := c.gateway.call(gatewayRequest{Op: opMemory, Free: free})
		if err != nil {
			return memSample{}
		}
		return r.Memory
	}
	return localMemSample(free)
}

// Close stops everything the cluster started and removes its temporary
// directory.
func (c *Cluster) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c.gateway != nil {
		c.gateway.stop() // first: its nodes and proxy hold connections to the upstream
	}
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Go(func() { n.Shutdown(ctx) })
	}
	wg.Wait()
	for _, s := range c.servers {
		s.Shutdown(ctx)
	}
	if c.upstream != nil {
		c.upstream.stop()
	}
	if c.tmp {
		return os.RemoveAll(c.dir)
	}
	return nil
}

// newTransport returns a keep-alive HTTP/1.1 transport for loopback
// keeping up to idle connections.
func newTransport(idle int) *http.Transport {
	return &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// RequestBody is the chat completion every scenario sends.
func RequestBody(stream bool, maxTokens int) []byte {
	return fmt.Appendf(nil, `{"model":%q,"stream":%t,"messages":[{"role":"system","content":"You are a benchmark."},{"role":"user","content":"Where does my data go when I call this gateway?"}],"max_tokens":%d}`,
		profileID, stream, maxTokens)
}
