package node

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestForwardedStreamsAtScale holds 600 streams open at once through two
// nodes over the real mutual TLS link (the only deployment is in the peer
// region), then lets them finish: every stream opens and completes, and the
// source never marks its peer down. The peer's backend holds each stream
// until all 600 have reached it. With net/http's HTTP/2 defaults on the
// link, streams beyond 250 each dialled a connection, the handshakes
// starved both nodes, and forwards failed with the peer marked down; the
// peer's link listener counts the connections to prove the first part.
func TestForwardedStreamsAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 600 streams; skipped with -short")
	}
	const n = 600
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute) // a hang guard only
	defer cancel()
	var started atomic.Int64
	all, release := make(chan struct{}), make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if started.Add(1) == n {
			close(all)
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"chat-small\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n")
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"chat-small\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	up.Config.SetKeepAlivesEnabled(false)
	t.Cleanup(up.Close)

	regions := []string{"eu-west-1", "eu-central-1"}
	lc, err := pki.Provision(t.TempDir(), "", regions...)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := auth.NewKey()
	lns := map[string][2]net.Listener{}
	var peerConns atomic.Int64
	var y strings.Builder
	fmt.Fprintf(&y, "account: \"111122223333\"\nlink: {ca_file: %q, cert_file: %q, key_file: %q}\ngeographies: { eu: { name: EU } }\nregions:\n", lc.CAFile, lc.CertFile, lc.KeyFile)
	for i, r := range regions {
		cl, _ := net.Listen("tcp", "127.0.0.1:0")
		ll, _ := net.Listen("tcp", "127.0.0.1:0")
		if r == "eu-central-1" {
			ll = &acceptCounter{Listener: ll, accepted: &peerConns}
		}
		lns[r] = [2]net.Listener{cl, ll}
		fmt.Fprintf(&y, "  - {id: %s, geography: eu, location: {lat: %d, lon: 0}, listen: %q, link: %q}\n", r, 50+i, cl.Addr(), ll.Addr())
	}
	fmt.Fprintf(&y, `models: [ { id: demo.chat-small } ]
deployments:
  - { model: demo.chat-small, region: eu-central-1, backend: { type: openai, url: %q, model: chat-small }, capacity: { max_concurrency: 2000 } }
principals: [ { id: tester, api_keys: [%q] } ]
`, up.URL+"/v1", auth.HashKey(key))
	cfg, err := topology.Parse([]byte(y.String()), "scale.yaml")
	if err != nil {
		t.Fatalf("topology: %v\n%s", err, y.String())
	}
	nodes := map[string]*Node{}
	for _, r := range regions {
		nd, err := New(Options{Config: cfg, Region: r, ClientListener: lns[r][0], LinkListener: lns[r][1], AuditDir: t.TempDir(), DataDir: t.TempDir(),
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		nodes[r] = nd
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var wg sync.WaitGroup
		for _, nd := range nodes {
			wg.Go(func() { nd.Shutdown(ctx) })
		}
		wg.Wait()
	})
	src := nodes["eu-west-1"]

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	fail := func(s string) {
		mu.Lock()
		failures = append(failures, s)
		mu.Unlock()
	}
	for range n {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+src.ClientAddr()+"/v1/chat/completions",
				strings.NewReader(chatBody("eu.demo.chat-small", true)))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				fail(err.Error())
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || err != nil || !bytes.HasSuffix(bytes.TrimSpace(b), []byte("data: [DONE]")) {
				fail(fmt.Sprintf("%d %v %.200s", resp.StatusCode, err, b))
			}
		})
	}
	select {
	case <-all:
	case <-ctx.Done():
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("%d of %d streams reached the peer's backend; %d failed, first: %v", started.Load(), n, len(failures), failures)
	}
	if !src.link.PeerHealthy("eu-central-1") {
		t.Errorf("the source marked its peer down with %d streams open", n)
	}
	// The pool's HTTP/1.1 connections that streams take (48, one stream
	// each), then one connection per 100 streams (the client's lanes), one
	// for probes.
	const pool = 48
	if got, limit := peerConns.Load(), int64(pool+(n-pool+99)/100+1); got > limit {
		t.Errorf("the source opened %d link connections for %d streams, want at most %d", got, n, limit)
	}
	close(release)
	wg.Wait()
	if len(failures) != 0 {
		t.Fatalf("%d of %d streams failed; first: %s", len(failures), n, failures[0])
	}
	if !src.link.PeerHealthy("eu-central-1") {
		t.Errorf("the source marked its peer down after the streams")
	}
}

// acceptCounter counts the connections it accepts.
type acceptCounter struct {
	net.Listener
	accepted *atomic.Int64
}

func (l *acceptCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}
