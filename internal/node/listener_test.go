package node

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const (
	limitsAKID   = "AKIDLIMITSTEST"
	limitsSecret = "limits-test-secret"
)

// limitsNode is one node on loopback with an API key, a viewer key and a
// SigV4 access key.
type limitsNode struct {
	n              *Node
	key, viewerKey string
	read           *atomic.Int64 // bytes the client listener read
}

func startLimitsNode(t *testing.T, server string, ops bool) *limitsNode {
	t.Helper()
	key, _ := auth.NewKey()
	viewer, _ := auth.NewKey()
	cl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	y := fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
audit: { disabled: true }
server: { data_dir: %q %s }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: %q, link: "127.0.0.1:0" }
models: [ { id: demo.chat-small } ]
deployments: [ { model: demo.chat-small, region: eu-west-1, backend: { type: mock, ttft: 1ms, tokens_per_second: 5000 } } ]
principals:
  - { id: tester, api_keys: [%q], access_keys: [ { id: %s, secret_env: LIMITS_SECRET } ] }
  - { id: watcher, viewer: true, api_keys: [%q] }
`, t.TempDir(), server, cl.Addr(), auth.HashKey(key), limitsAKID, auth.HashKey(viewer))
	cfg, err := topology.Parse([]byte(y), "limits.yaml")
	if err != nil {
		t.Fatalf("topology: %v\n%s", err, y)
	}
	ln := &limitsNode{key: key, viewerKey: viewer, read: &atomic.Int64{}}
	opts := Options{Config: cfg, Region: "eu-west-1", ClientListener: countingListener{cl, ln.read}, Dev: true,
		Getenv: func(k string) string {
			if k == "LIMITS_SECRET" {
				return limitsSecret
			}
			return ""
		},
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if ops {
		if opts.OpsListener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.Shutdown(ctx)
	})
	ln.n = n
	return ln
}

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func get(t *testing.T, url, key string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOpsEndpointsNeedAPrincipal: on the client listener, metrics and the
// regions view need an authenticated principal (a viewer is enough) and
// probes stay open; the ops listener serves all four without one.
func TestOpsEndpointsNeedAPrincipal(t *testing.T) {
	ln := startLimitsNode(t, "", true)
	client, ops := "http://"+ln.n.ClientAddr(), "http://"+ln.n.OpsAddr()
	tests := []struct {
		name, url, path, key string
		want                 int
	}{
		{"healthz open", client, "/healthz", "", 200},
		{"readyz open", client, "/readyz", "", 200},
		{"metrics without a key", client, "/metrics", "", 401},
		{"metrics with a wrong key", client, "/metrics", "mk-wrong", 401},
		{"regions without a key", client, "/meridian/v1/regions", "", 401},
		{"metrics with a key", client, "/metrics", ln.key, 200},
		{"regions with a viewer key", client, "/meridian/v1/regions", ln.viewerKey, 200},
		{"ops metrics", ops, "/metrics", "", 200},
		{"ops regions", ops, "/meridian/v1/regions", "", 200},
		{"ops healthz", ops, "/healthz", "", 200},
		{"ops readyz", ops, "/readyz", "", 200},
		{"ops serves no API", ops, "/v1/models", ln.key, 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := get(t, tc.url+tc.path, tc.key)
			if status != tc.want {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, status, body, tc.want)
			}
			if status == 401 && !strings.Contains(body, "ops listener") {
				t.Errorf("GET %s 401 body %q does not say how to authenticate", tc.path, body)
			}
			if tc.path == "/metrics" && status == 200 && !strings.Contains(body, "meridian_unauthenticated_refused_total") {
				t.Errorf("GET /metrics lacks meridian_unauthenticated_refused_total")
			}
		})
	}
}

// stalledRequest sends head and the first KiB of a body that is declared
// to be 4 MiB, then holds the connection. It returns the connection and a
// channel that delivers the response (or an error).
func stalledRequest(t *testing.T, addr, head string) (net.Conn, <-chan *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // hang guard
	io.WriteString(conn, head)
	conn.Write([]byte(strings.Repeat("a", 1024)))
	ch := make(chan *http.Response, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			ch <- nil
			return
		}
		resp.Body.Close()
		ch <- resp
	}()
	return conn, ch
}

// sigV4Head is the header block of a Converse request signed with the
// node's access key over a 4 MiB body's hash, without
// X-Amz-Content-Sha256: its signature verifies only once the body is read.
func sigV4Head(t *testing.T, host string) string {
	t.Helper()
	const n = 4 << 20
	body := strings.Repeat("a", n)
	req, _ := http.NewRequest("POST", "http://"+host+"/model/eu.demo.chat-small/converse", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: limitsAKID, SecretAccessKey: limitsSecret},
		req, hex.EncodeToString(sum[:]), "bedrock", "eu-west-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST /model/eu.demo.chat-small/converse HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", host, n)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

func noCredentialsHead(host, path string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, host, 4<<20)
}

// watchReads makes a's changes observable to waitReads.
func watchReads(a *admission) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.changed = make(chan struct{}, 1)
}

// waitReads waits until ip has want bytes of unauthenticated body reads
// in flight; the timeout is a hang guard only.
func waitReads(t *testing.T, a *admission, ip string, want int64) {
	t.Helper()
	guard := time.After(20 * time.Second)
	for {
		a.mu.Lock()
		got := a.reading[ip]
		a.mu.Unlock()
		if got == want {
			return
		}
		select {
		case <-a.changed:
		case <-guard:
			t.Fatalf("%s has %d bytes of unauthenticated body reads in flight, want %d", ip, got, want)
		}
	}
}

// TestSlowUnauthenticatedBodiesDoNotStarveCallers: 200 connections that
// stall mid-body without authenticating (a third without credentials on
// each front end, a third signed over a body hash they never finish
// sending) hold at most max_unauthenticated_bytes_per_ip of body reads
// (8 bodies of 4 MiB here); the others are answered at once (401, or 429
// in Bedrock's shape, counted in a metric), the server reads a few KiB of
// each, and an authenticated caller from the same address is served
// meanwhile.
func TestSlowUnauthenticatedBodiesDoNotStarveCallers(t *testing.T) {
	const limit = 8
	// The connection limit is raised out of the way: this test is about
	// body reads (TestUnauthenticatedConnectionsPerIP is about connections).
	ln := startLimitsNode(t, fmt.Sprintf(", limits: { max_unauthenticated_bytes_per_ip: %d, max_unauthenticated_connections_per_ip: 1000 }", limit*4<<20), false)
	addr := ln.n.ClientAddr()
	head := sigV4Head(t, addr)
	watchReads(ln.n.admission)

	// The first `limit` signed requests take the address's slots.
	var held []<-chan *http.Response
	var heldConns []net.Conn
	for range limit {
		c, ch := stalledRequest(t, addr, head)
		held, heldConns = append(held, ch), append(heldConns, c)
	}
	waitReads(t, ln.n.admission, "127.0.0.1", limit*4<<20)

	type result struct {
		kind string
		resp *http.Response
	}
	results := make(chan result, 200)
	var wg sync.WaitGroup
	for i := range 200 - limit {
		wg.Go(func() {
			kind, h := "signed", head
			switch i % 3 {
			case 0:
				kind, h = "bedrock without credentials", noCredentialsHead(addr, "/model/eu.demo.chat-small/converse")
			case 1:
				kind, h = "openai without credentials", noCredentialsHead(addr, "/v1/chat/completions")
			}
			_, ch := stalledRequest(t, addr, h)
			results <- result{kind, <-ch}
		})
	}
	wg.Wait()
	close(results)
	refused := 0
	for r := range results {
		if r.resp == nil {
			t.Errorf("%s: no answer while stalled mid-body", r.kind)
			continue
		}
		want := 401
		if r.kind == "signed" {
			want = 429
			refused++
			if got := r.resp.Header.Get("X-Amzn-Errortype"); got != "ThrottlingException" {
				t.Errorf("%s: x-amzn-ErrorType = %q, want ThrottlingException", r.kind, got)
			}
		}
		if r.resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", r.kind, r.resp.StatusCode, want)
		}
	}
	if n := ln.read.Load(); n > 200*(16<<10) {
		t.Errorf("server read %d bytes of 200 stalled requests, want a few KiB each", n)
	}

	// An authenticated caller from the same address is served, through
	// both front ends, while the slots are taken.
	for _, c := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"model":"eu.demo.chat-small","max_tokens":4,"messages":[{"role":"user","content":"hi"}]}`},
		{"/model/eu.demo.chat-small/converse", `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":4}}`},
	} {
		req, _ := http.NewRequest("POST", "http://"+addr+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+ln.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("authenticated POST %s: %v", c.path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("authenticated POST %s = %d %s, want 200", c.path, resp.StatusCode, b)
		}
	}
	_, metrics := get(t, "http://"+addr+"/metrics", ln.key)
	if want := fmt.Sprintf("meridian_unauthenticated_refused_total{reason=\"body_bytes\",region=\"eu-west-1\"} %d", refused); !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %q", want)
	}

	// Closing the held connections gives the slots back.
	for _, c := range heldConns {
		c.Close()
	}
	waitReads(t, ln.n.admission, "127.0.0.1", 0)
}

// TestBodyReadTimeout: a body that stops arriving is cut at
// server.limits.body_read_timeout, and its connection closed.
func TestBodyReadTimeout(t *testing.T) {
	ln := startLimitsNode(t, ", limits: { body_read_timeout: 200ms }", false)
	addr := ln.n.ClientAddr()
	watchReads(ln.n.admission)
	conn, ch := stalledRequest(t, addr, sigV4Head(t, addr))
	resp := <-ch
	if resp == nil {
		t.Fatal("no answer after the body read timeout")
	}
	if resp.StatusCode != 400 || !resp.Close {
		t.Errorf("stalled body: status %d close %v, want 400 and the connection closed", resp.StatusCode, resp.Close)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after the refusal")
	}
	waitReads(t, ln.n.admission, "127.0.0.1", 0)
}

// authGet is http.Get with an API key, for the operational views the
// client listener serves to principals only.
func authGet(url, key string) (*http.Response, error) {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	return http.DefaultClient.Do(req)
}

func (a *admission) connsOf(ip string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l := a.conns[ip]; l != nil {
		return l.Len()
	}
	return 0
}

// waitConns waits until ip has want connections not yet authenticated;
// the timeout is a hang guard only.
func waitConns(t *testing.T, a *admission, ip string, want int) {
	t.Helper()
	guard := time.After(20 * time.Second)
	for {
		got := a.connsOf(ip)
		if got == want {
			return
		}
		select {
		case <-a.changed:
		case <-guard:
			t.Fatalf("%s has %d connections not yet authenticated, want %d", ip, got, want)
		}
	}
}

// TestUnauthenticatedConnectionsPerIP: an address may hold at most
// max_unauthenticated_connections_per_ip connections on which nothing has
// authenticated (idle, or sending headers slowly); one more is answered 429
// and closed without being read, and counted. A connection that
// authenticates stops counting, so a caller's keep-alive connection, or a
// new one once a slot frees, is served. (The grace period of new
// connections is zero here; TestConnectionGrace covers it.)
func TestUnauthenticatedConnectionsPerIP(t *testing.T) {
	const limit = 4
	ln := startLimitsNode(t, fmt.Sprintf(", limits: { max_unauthenticated_connections_per_ip: %d, read_header_timeout: 1m }", limit), false)
	addr := ln.n.ClientAddr()
	watchReads(ln.n.admission)
	ln.n.admission.mu.Lock()
	ln.n.admission.grace = 0
	ln.n.admission.mu.Unlock()

	// An authenticated caller's keep-alive connection, opened first.
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	caller := &http.Client{Transport: tr}
	call := func() int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v1/models", nil)
		req.Header.Set("Authorization", "Bearer "+ln.key)
		resp, err := caller.Do(req)
		if err != nil {
			t.Fatalf("authenticated GET /v1/models: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := call(); s != 200 {
		t.Fatalf("authenticated GET /v1/models = %d", s)
	}
	waitConns(t, ln.n.admission, "127.0.0.1", 0)

	// limit idle connections that never send a byte.
	var idle []net.Conn
	for range limit {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		idle = append(idle, c)
	}
	waitConns(t, ln.n.admission, "127.0.0.1", limit)

	// One more is refused at once, before it sends anything.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second)) // hang guard
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("connection beyond the limit: %v, want a 429 answer", err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 429 || !strings.Contains(string(b), "max_unauthenticated_connections_per_ip") {
		t.Errorf("connection beyond the limit: %d %s, want 429 naming the limit", resp.StatusCode, b)
	}

	// The caller's authenticated connection is still served.
	if s := call(); s != 200 {
		t.Errorf("authenticated GET on the keep-alive connection = %d, want 200", s)
	}
	// An idle connection that authenticates frees its slot for a new one.
	fmt.Fprintf(idle[0], "GET /v1/models HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", addr, ln.key)
	if resp, err := http.ReadResponse(bufio.NewReader(idle[0]), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("authenticating on an idle connection: %v %v", resp, err)
	}
	waitConns(t, ln.n.admission, "127.0.0.1", limit-1)
	tr.CloseIdleConnections()
	if s := call(); s != 200 {
		t.Errorf("authenticated GET on a new connection after a slot freed = %d, want 200", s)
	}
	// Closing connections frees their slots.
	for _, c := range idle[1:] {
		c.Close()
	}
	waitConns(t, ln.n.admission, "127.0.0.1", 0)

	_, metrics := get(t, "http://"+addr+"/metrics", ln.key)
	if want := `meridian_unauthenticated_refused_total{reason="connections",region="eu-west-1"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %q", want)
	}
}

// TestConnectionGrace: connections younger than the grace period do not
// count against their address, so a burst of new connections is accepted;
// once they are older and still unauthenticated, they do.
func TestConnectionGrace(t *testing.T) {
	t.Parallel()
	a, err := newAdmission(topology.ClientLimits{MaxUnauthenticatedConnectionsPerIP: 2}, 0, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	a.now = func() time.Time { return now }
	conn := func(ip string) *admittedConn { return &admittedConn{a: a, ip: ip} }
	var burst []*admittedConn
	for i := range 10 {
		c := conn("192.0.2.1")
		if !a.openConn(c) {
			t.Fatalf("burst connection %d refused within the grace period", i)
		}
		burst = append(burst, c)
	}
	now = now.Add(connectionGrace)
	if a.openConn(conn("192.0.2.1")) {
		t.Error("connection accepted while 10 older unauthenticated ones are open, limit 2")
	}
	if !a.openConn(conn("192.0.2.2")) {
		t.Error("another address refused")
	}
	for _, c := range burst[:9] {
		c.authenticated()
	}
	if !a.openConn(conn("192.0.2.1")) {
		t.Error("connection refused with 1 older unauthenticated one open, limit 2")
	}
	var m dto.Metric
	a.refused.WithLabelValues("connections").Write(&m)
	if got := m.GetCounter().GetValue(); got != 1 {
		t.Errorf("refused{connections} = %v, want 1", got)
	}

	// A burst, however young, is bounded at connectionBurst times the limit.
	for i := range connectionBurst * 2 {
		if !a.openConn(conn("192.0.2.3")) {
			t.Fatalf("young connection %d of a burst refused below %d", i, connectionBurst*2)
		}
	}
	if a.openConn(conn("192.0.2.3")) {
		t.Errorf("connection accepted beyond %d young unauthenticated ones", connectionBurst*2)
	}
}

func TestBodyCharge(t *testing.T) {
	t.Parallel()
	a, err := newAdmission(topology.ClientLimits{}, 1000, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ cl, want int64 }{{10, 10}, {1000, 1000}, {5000, 1000}, {-1, 1000}} {
		if got := a.charge(tc.cl); got != tc.want {
			t.Errorf("charge(%d) = %d, want %d", tc.cl, got, tc.want)
		}
	}
	if a.maxBytes != 64<<20 {
		t.Errorf("default budget = %d, want 64 MiB", a.maxBytes)
	}
}

// TestTLSAdmission: on a TLS client listener (HTTP/2), a client
// certificate authenticates a Bedrock call before its body is read, and
// the connection stops counting as unauthenticated (the admission state
// is found under the TLS layer); an unauthenticated one is refused in
// Bedrock's shape.
func TestTLSAdmission(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA := newTestCA(t, "server ca"), newTestCA(t, "client ca")
	srvCert, srvKey := writePair(t, dir, "server", serverCA.issue(t, "eu-west-1.example", true))
	clientCAPath := dir + "/client-ca.pem"
	if err := os.WriteFile(clientCAPath, clientCA.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	y := fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
audit: { disabled: true }
server: { data_dir: %q }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: %q, link: "127.0.0.1:0",
      tls: { cert_file: %q, key_file: %q, client_ca_file: %q } }
models: [ { id: demo.chat-small } ]
deployments: [ { model: demo.chat-small, region: eu-west-1, backend: { type: mock, ttft: 1ms, tokens_per_second: 5000 } } ]
principals:
  - { id: batch-job, client_cert_subjects: ["batch.internal"] }
`, t.TempDir(), cl.Addr(), srvCert, srvKey, clientCAPath)
	cfg, err := topology.Parse([]byte(y), "tls.yaml")
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	watchReads(n.admission)
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(t.Context())
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverCA.pem)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}
	converse := func(c *http.Client) *http.Response {
		req, _ := http.NewRequest("POST", "https://"+cl.Addr().String()+"/model/eu.demo.chat-small/converse",
			strings.NewReader(`{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":4}}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("POST converse: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	if resp := converse(client(clientCA.issue(t, "batch.internal", false))); resp.StatusCode != 200 || resp.ProtoMajor != 2 {
		t.Errorf("converse with a client certificate: %d over HTTP/%d, want 200 over HTTP/2", resp.StatusCode, resp.ProtoMajor)
	}
	waitConns(t, n.admission, "127.0.0.1", 0)
	if resp := converse(client()); resp.StatusCode != 401 || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" {
		t.Errorf("converse without credentials: %d %q, want 401 MissingAuthenticationTokenException", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
	}
}
