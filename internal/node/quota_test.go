package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/mockllm"
	"github.com/meridian-gateway/meridian/internal/quota"
	"github.com/meridian-gateway/meridian/internal/routing/routingtest"
	"github.com/meridian-gateway/meridian/internal/testenv"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// redisServer is a real redis-server on a free loopback port.
type redisServer struct {
	t    *testing.T
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin := testenv.LookPath(t, "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisServer{t: t, bin: bin, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	// redis-server logs "Ready to accept connections" once it listens:
	// wait for that line, not for a dial to succeed.
	pr, pw, err := os.Pipe()
	if err != nil {
		r.t.Fatal(err)
	}
	r.cmd.Stdout = pw
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	pw.Close()
	ready := make(chan struct{})
	go func() {
		defer pr.Close()
		sc := bufio.NewScanner(pr)
		said := false
		for sc.Scan() { // read to the end, so redis never blocks logging
			if !said && strings.Contains(sc.Text(), "Ready to accept connections") {
				said = true
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(time.Minute): // a hang guard only
		r.t.Fatalf("redis-server did not start on %s", r.addr())
	}
}

func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// replicas starts n replicas of eu-west-1 sharing a Redis quota store.
func replicas(t *testing.T, redis *redisServer, n int, limits, onStoreError string) (urls []string, key string) {
	urls, key, _ = replicasWithUpstream(t, redis, n, limits, onStoreError)
	return urls, key
}

func replicasWithUpstream(t *testing.T, redis *redisServer, n int, limits, onStoreError string) (urls []string, key string, upstream *mockllm.Server) {
	t.Helper()
	_, urls, key, upstream = replicaNodes(t, redis, n, limits, onStoreError)
	return urls, key, upstream
}

// replicaNodes is replicasWithUpstream, returning the nodes too.
func replicaNodes(t *testing.T, redis *redisServer, n int, limits, onStoreError string) (nodes []*Node, urls []string, key string, upstream *mockllm.Server) {
	t.Helper()
	return replicaNodesWithClock(t, redis, n, limits, onStoreError, nil)
}

// replicaNodesWithClock is replicaNodes with the quota limiters timed by
// clock (nil: the wall clock). The store's read and write time-outs are
// hang guards (30s, not the default 1s): a busy test machine is no outage,
// and a stopped server is refused at once.
func replicaNodesWithClock(t *testing.T, redis *redisServer, n int, limits, onStoreError string, clock quota.Clock) (nodes []*Node, urls []string, key string, upstream *mockllm.Server) {
	t.Helper()
	key, _ = auth.NewKey()
	srv := mockllm.New(mockllm.Config{Models: []string{"chat-small"}, TTFT: 5 * time.Millisecond, TokensPerSecond: 400, CompletionTokens: 8, Seed: 3})
	up := httptest.NewServer(srv.Handler())
	t.Cleanup(up.Close)
	y := fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
quota: { store: redis, redis: { url: "redis://%s/0?read_timeout=30s&write_timeout=30s", key_prefix: "test-%d:" }, on_store_error: %s }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [ { id: demo.chat-small } ]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: openai, url: %q, model: chat-small } }
principals:
  - { id: limited, api_keys: [%q], limits: %s }
`, redis.addr(), time.Now().UnixNano(), onStoreError, up.URL+"/v1", auth.HashKey(key), limits)
	cfg, err := topology.Parse([]byte(y), "replicas.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		cl, _ := net.Listen("tcp", "127.0.0.1:0")
		ll, _ := net.Listen("tcp", "127.0.0.1:0")
		nd, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll, AuditDir: t.TempDir(), DataDir: t.TempDir(), QuotaClock: clock,
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))})
		if err != nil {
			t.Fatal(err)
		}
		if err := nd.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, nd)
		urls = append(urls, "http://"+cl.Addr().String())
	}
	upstream = srv
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, nd := range nodes {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				nd.Shutdown(ctx)
			})
		}
		wg.Wait()
	})
	return nodes, urls, key, upstream
}

// postTo sends a chat completion to the node at url; safe to call from
// worker goroutines.
func postTo(t *testing.T, url, key, body string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("post: %v", err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestExactRPMAcrossReplicas: three replicas, a key with 60 requests per
// minute, 200 concurrent requests spread over them: exactly 60 succeed, the
// rest get 429 with a correct Retry-After and the x-ratelimit headers.
func TestExactRPMAcrossReplicas(t *testing.T) {
	redis := startRedis(t)
	urls, key := replicas(t, redis, 3, "{ rpm: 60 }", "fail_closed")
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Go(func() {
			status, h, body := postTo(t, urls[i%3], key, chatBody("eu.demo.chat-small", false))
			switch status {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
				ra, err := strconv.Atoi(h.Get("Retry-After"))
				if err != nil || ra < 1 || ra > 60 {
					t.Errorf("429 Retry-After %q, want 1..60 s", h.Get("Retry-After"))
				}
				if h.Get("X-Ratelimit-Limit-Requests") != "60" || h.Get("X-Ratelimit-Remaining-Requests") != "0" || h.Get("X-Ratelimit-Reset-Requests") == "" {
					t.Errorf("429 rate-limit headers %v", h)
				}
			default:
				t.Errorf("status %d: %s", status, body)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 60 || limited.Load() != 140 {
		t.Errorf("%d succeeded and %d were limited, want exactly 60 and 140", ok.Load(), limited.Load())
	}
}

// TestStreamedTokensCountedExactly: a key with 10,000 tokens per minute and
// streaming requests: the tokens counted equal the usage the backend
// reported, to the token.
func TestStreamedTokensCountedExactly(t *testing.T) {
	redis := startRedis(t)
	urls, key := replicas(t, redis, 2, "{ tpm: 10000 }", "fail_closed")
	reported := 0
	for i := 0; i < 6; i++ {
		body := fmt.Sprintf(`{"model":"eu.demo.chat-small","stream":true,"stream_options":{"include_usage":true},"max_tokens":200,"messages":[{"role":"user","content":"count %d"}]}`, i)
		status, _, b := postTo(t, urls[i%2], key, body)
		if status != 200 {
			t.Fatalf("stream %d: %d %s", i, status, b)
		}
		idx := strings.LastIndex(string(b), `"total_tokens":`)
		if idx < 0 {
			t.Fatalf("stream %d has no usage chunk", i)
		}
		n, _ := strconv.Atoi(strings.TrimRight(strings.SplitN(string(b)[idx+len(`"total_tokens":`):], "}", 2)[0], " "))
		reported += n
	}
	// A probe request reserves its own estimate; what remains says what
	// the streams were charged.
	probe := `{"model":"eu.demo.chat-small","max_tokens":1,"messages":[{"role":"user","content":"?"}]}`
	est := (&inference.Request{Messages: []inference.Message{inference.TextMessage(inference.RoleUser, "?")}}).EstimatedInputTokens() + 1
	status, h, b := postTo(t, urls[0], key, probe)
	if status != 200 {
		t.Fatalf("probe: %d %s", status, b)
	}
	remaining, _ := strconv.Atoi(h.Get("X-Ratelimit-Remaining-Tokens"))
	if want := 10000 - reported - est; remaining != want {
		t.Errorf("remaining tokens after streams that reported %d tokens = %d, want %d (10000 - %d - the probe's %d)", reported, remaining, want, reported, est)
	}
}

// TestQuotaStoreOutage: killing Redis mid-load follows on_store_error,
// nothing panics, and service recovers by itself when Redis returns.
func TestQuotaStoreOutage(t *testing.T) {
	for _, mode := range []string{"fail_closed", "fail_open"} {
		t.Run(mode, func(t *testing.T) {
			redis := startRedis(t)
			clock := routingtest.NewClock(time.Now())
			_, urls, key, _ := replicaNodesWithClock(t, redis, 1, "{ rpm: 100000 }", mode, clock)
			body := chatBody("eu.demo.chat-small", false)
			if s, _, b := postTo(t, urls[0], key, body); s != 200 {
				t.Fatalf("before the outage: %d %s", s, b)
			}
			redis.stop()
			statuses := map[int]int{}
			for i := 0; i < 10; i++ {
				s, _, _ := postTo(t, urls[0], key, body)
				statuses[s]++
			}
			want := 503
			if mode == "fail_open" {
				want = 200
			}
			if statuses[want] != 10 {
				t.Errorf("during the outage: statuses %v, want all %d", statuses, want)
			}
			if mode == "fail_closed" {
				resp, err := http.Get(urls[0] + "/readyz")
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != 503 {
						t.Errorf("/readyz during a fail_closed outage = %d, want 503", resp.StatusCode)
					}
				}
			}
			redis.start()
			// The limiter tries a down store again once per probe interval
			// of its clock: let one pass, and the next request recovers it
			// (go-redis may still spend a request or two on connections to
			// the old server).
			clock.Advance(time.Minute)
			last := 0
			for range 3 {
				if last, _, _ = postTo(t, urls[0], key, body); last == 200 {
					break
				}
				clock.Advance(time.Minute)
			}
			if last != 200 {
				t.Fatalf("service did not recover once Redis returned and a probe interval passed (last status %d)", last)
			}
		})
	}
}

// TestReplicasShareCooldowns: a 429 seen by one replica cools the
// deployment for all of them.
func TestReplicasShareCooldowns(t *testing.T) {
	redis := startRedis(t)
	nodes, urls, key, up := replicaNodes(t, redis, 2, "{ rpm: 100000 }", "fail_closed")
	up.SetThrottled(5 * time.Second)
	body := chatBody("eu.demo.chat-small", false)
	if s, _, b := postTo(t, urls[0], key, body); s != 429 {
		t.Fatalf("through replica 0 with the upstream throttled: %d %s, want 429", s, b)
	}
	before := up.Stats().Requests
	// Replica 0 has published the cooldown; replica 1 applies what the
	// store holds (as its sync loop does twice a second).
	nodes[0].sharing.Wait()
	nodes[1].applySharedCooldowns(t.Context())
	s, h, b := postTo(t, urls[1], key, body)
	if s != 429 {
		t.Fatalf("through replica 1: %d %s, want 429 from the shared cooldown", s, b)
	}
	if got := up.Stats().Requests - before; got != 0 {
		t.Errorf("replica 1 sent %d requests to a deployment replica 0 saw throttled", got)
	}
	if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 1 || ra > 5 {
		t.Errorf("Retry-After %q, want the remaining cooldown (1..5 s)", h.Get("Retry-After"))
	}
}

func TestRedisPasswordFromEnvironment(t *testing.T) {
	q := topology.Quota{Store: "redis", Redis: topology.QuotaRedis{URL: "redis://127.0.0.1:6379/0", PasswordEnv: "PW"}}
	cfg, err := quotaConfig(q, func(k string) string {
		if k == "PW" {
			return "s3cret/with:chars"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(cfg.Redis.URL, "s3cret") || !strings.HasPrefix(cfg.Redis.URL, "redis://:") {
		t.Errorf("URL %q does not carry the password", cfg.Redis.URL)
	}
	if _, err := quotaConfig(q, func(string) string { return "" }); err == nil || !strings.Contains(err.Error(), "PW") {
		t.Errorf("missing password variable: %v, want an error naming it", err)
	}
}

// TestReplicasShareApplicationProfiles: an application profile created
// through one replica is served by the other within a load interval, and a
// deletion through the second reaches the first; each replica keeps its own
// data directory.
func TestReplicasShareApplicationProfiles(t *testing.T) {
	redis := startRedis(t)
	nodes, urls, key, _ := replicaNodes(t, redis, 2, "{ rpm: 100000 }", "fail_closed")
	do := func(method, url, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, body := do("POST", urls[0]+"/inference-profiles", `{"inferenceProfileName":"claims-eu",`+
		`"modelSource":{"copyFrom":"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/eu.demo.chat-small"}}`)
	var created struct {
		InferenceProfileArn string `json:"inferenceProfileArn"`
	}
	if status != http.StatusCreated && status != http.StatusOK || json.Unmarshal(body, &created) != nil || created.InferenceProfileArn == "" {
		t.Fatalf("create through replica 0 = %d %s", status, body)
	}
	id := created.InferenceProfileArn[strings.LastIndex(created.InferenceProfileArn, "/")+1:]
	// A change reaches the other replica through the shared store: the
	// replica that made it writes it (its sync loop runs at once after a
	// change), the other merges it (at its next sync). Run both syncs now.
	waitFor := func(what, url string, want int) {
		t.Helper()
		from, to := nodes[0], nodes[1]
		if url == urls[0] {
			from, to = nodes[1], nodes[0]
		}
		from.syncProfiles(t.Context())
		to.syncProfiles(t.Context())
		if s, b := do("GET", url+"/inference-profiles/"+id, ""); s != want {
			t.Fatalf("%s: GET = %d %s, want %d", what, s, b, want)
		}
	}
	waitFor("replica 1 learns the profile", urls[1], http.StatusOK)
	if s, _, b := postTo(t, urls[1], key, chatBody(created.InferenceProfileArn, false)); s != http.StatusOK {
		t.Errorf("chat through replica 1 with the profile created on replica 0 = %d %s, want 200", s, b)
	}
	if s, b := do("DELETE", urls[1]+"/inference-profiles/"+id, ""); s != http.StatusOK {
		t.Fatalf("delete through replica 1 = %d %s", s, b)
	}
	waitFor("replica 0 learns the deletion", urls[0], http.StatusNotFound)
}
