package node

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// gatedBackend is an OpenAI-compatible upstream that announces each request
// (by its prompt) and answers it only when the test releases it, so a test
// decides when capacity frees without any timing.
type gatedBackend struct {
	arrived chan string
	release chan struct{}
}

func newGatedBackend(t *testing.T) (*gatedBackend, string) {
	g := &gatedBackend{arrived: make(chan string, 16), release: make(chan struct{})}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		id := ""
		if len(body.Messages) > 0 {
			id = body.Messages[0].Content
		}
		g.arrived <- id
		select {
		case <-g.release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"c","object":"chat.completion","created":0,"model":"chat-small","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	}))
	t.Cleanup(hs.Close)
	t.Cleanup(func() { close(g.release) }) // frees any request still held
	return g, hs.URL + "/v1"
}

// next returns the prompt of the next request the backend received.
func (g *gatedBackend) next(t *testing.T) string {
	t.Helper()
	select {
	case id := <-g.arrived:
		return id
	case <-time.After(time.Minute): // a hang guard only
		t.Fatal("no request reached the backend")
		return ""
	}
}

// tierAnswer is one answer of the tier test.
type tierAnswer struct {
	status int
	tier   string
	body   string
}

func postTier(t *testing.T, url, key, prompt, tier string) tierAnswer {
	body := fmt.Sprintf(`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":%q}],"max_tokens":8}`, prompt)
	req, _ := http.NewRequest("POST", url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if tier != "" {
		req.Header.Set("X-Amzn-Bedrock-Service-Tier", tier)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("post %s: %v", prompt, err)
		return tierAnswer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return tierAnswer{resp.StatusCode, resp.Header.Get("X-Meridian-Service-Tier"), string(b)}
}

// TestPriorityServedAheadOfDefault: a real node on loopback whose only
// deployment takes one request at a time. With the slot held, a default
// request queues, then a priority one; a flex one is refused at once (no
// spare capacity). When the slot frees, the priority request reaches the
// backend first, then the default one. Each answer names its served tier.
// The order is the test's: every step waits for the previous one's effect.
func TestPriorityServedAheadOfDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	backend, upstream := newGatedBackend(t)
	key, _ := auth.NewKey()
	y := fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
routing: { queue: { max: 8, timeout: 60s, max_wait: 60s } }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [ { id: demo.chat-small } ]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: openai, url: %q, model: chat-small }, capacity: { max_concurrency: 1 }, service_tiers: [priority, flex] }
principals:
  - { id: tester, api_keys: [%q] }
`, upstream, auth.HashKey(key))
	cfg, err := topology.Parse([]byte(y), "tiers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll, AuditDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	url := "http://" + cl.Addr().String()
	queue := n.Gateway().Routing().Queue
	waitDepth := func(d int) {
		t.Helper()
		deadline := time.Now().Add(time.Minute) // a hang guard only
		for queue.Len() != d {
			if time.Now().After(deadline) {
				t.Fatalf("queue depth %d, want %d", queue.Len(), d)
			}
			runtime.Gosched() // the queue's state, not time, ends the wait
		}
	}

	var wg sync.WaitGroup
	answers := map[string]tierAnswer{}
	var mu sync.Mutex
	send := func(prompt, tier string) {
		wg.Go(func() {
			a := postTier(t, url, key, prompt, tier)
			mu.Lock()
			answers[prompt] = a
			mu.Unlock()
		})
	}
	send("holder", "")
	if got := backend.next(t); got != "holder" {
		t.Fatalf("first at the backend: %q, want holder", got)
	}
	send("default-1", "default")
	waitDepth(1)
	send("priority-1", "priority")
	waitDepth(2)
	if a := postTier(t, url, key, "flex-1", "flex"); a.status != 429 {
		t.Errorf("flex at a saturated deployment: %d %s, want 429 at once", a.status, a.body)
	}
	var order []string
	for range 3 {
		backend.release <- struct{}{}
		if len(order) < 2 {
			order = append(order, backend.next(t))
		}
	}
	wg.Wait()
	if strings.Join(order, ",") != "priority-1,default-1" {
		t.Errorf("served after the holder: %v, want priority-1 then default-1", order)
	}
	for prompt, want := range map[string]string{"holder": "default", "default-1": "default", "priority-1": "priority"} {
		if a := answers[prompt]; a.status != 200 || a.tier != want {
			t.Errorf("%s: status %d, x-meridian-service-tier %q; want 200 and %s (%s)", prompt, a.status, a.tier, want, a.body)
		}
	}

	// Bedrock's Converse with serviceTier in the body: a flex request is
	// served from the spare capacity (the slot is free now), and the
	// answer names its tier in Bedrock's header.
	done := make(chan *http.Response, 1)
	go func() {
		body := `{"messages":[{"role":"user","content":[{"text":"converse-flex"}]}],"serviceTier":{"type":"flex"}}`
		req, _ := http.NewRequest("POST", url+"/model/eu.demo.chat-small/converse", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("converse: %v", err)
			done <- nil
			return
		}
		resp.Body.Close()
		done <- resp
	}()
	if got := backend.next(t); got != "converse-flex" {
		t.Errorf("at the backend: %q, want converse-flex", got)
	}
	backend.release <- struct{}{}
	if resp := <-done; resp != nil && (resp.StatusCode != 200 || resp.Header.Get("X-Amzn-Bedrock-Service-Tier") != "flex" || resp.Header.Get("X-Meridian-Service-Tier") != "flex") {
		t.Errorf("converse flex: status %d, headers %v; want 200 served as flex", resp.StatusCode, resp.Header)
	}
}

// TestPoolsAcrossReplicas: three replicas on one Redis share a principal's
// geographic pool of a model exactly; the in-region pool of the same model
// is separate.
func TestPoolsAcrossReplicas(t *testing.T) {
	redis := startRedis(t)
	urls, key := replicas(t, redis, 3, "{ per_model: { demo.chat-small: { pools: { geographic: { rpm: 7 }, in_region: { rpm: 2 } } } } }", "fail_closed")
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			status, h, body := postTo(t, urls[i%3], key, chatBody("eu.demo.chat-small", false))
			switch status {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
				if h.Get("Retry-After") == "" {
					t.Errorf("429 without Retry-After: %s", body)
				}
			default:
				t.Errorf("status %d: %s", status, body)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 7 || limited.Load() != 23 {
		t.Errorf("geographic pool: %d served, %d limited; want exactly 7 and 23", ok.Load(), limited.Load())
	}
	for i, want := range []int{200, 200, 429} {
		if status, _, body := postTo(t, urls[i], key, chatBody("demo.chat-small", false)); status != want {
			t.Errorf("in-region request %d: status %d, want %d (its own pool of 2): %s", i, status, want, body)
		}
	}
}

// TestForwardedTierFromHeader: a tier the caller set in a header (the body
// the link carries does not name it) reaches the destination signed in the
// envelope: the destination admits and audits the request in that tier.
func TestForwardedTierFromHeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster")
	}
	// tester may run inference only in eu-central-1, so eu-west-1 forwards.
	extra := `policies:
  invoke-in-central:
    Version: "2012-10-17"
    Statement:
      - Effect: Allow
        Action: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"]
        Resource: ["arn:aws:bedrock:*:111122223333:inference-profile/eu.*", "arn:aws:bedrock:eu-central-1::foundation-model/*"]
`
	c := startCluster(t, threeRegions, extra, withTesterPolicies("invoke-in-central"))
	ids := map[string]string{} // request id -> tier sent
	for _, tc := range []struct{ tier string }{{"flex"}, {"priority"}, {""}} {
		req, _ := http.NewRequest("POST", c.url("eu-west-1")+"/v1/chat/completions", strings.NewReader(chatBody("eu.demo.chat-small", false)))
		req.Header.Set("Authorization", "Bearer "+c.key)
		req.Header.Set("Content-Type", "application/json")
		if tc.tier != "" {
			req.Header.Set(gateway.HeaderBedrockServiceTier, tc.tier)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("X-Meridian-Inference-Region") != "eu-central-1" {
			t.Fatalf("tier %q: status %d, served in %q; want 200 from eu-central-1", tc.tier, resp.StatusCode, resp.Header.Get("X-Meridian-Inference-Region"))
		}
		ids[resp.Header.Get("X-Meridian-Request-Id")] = cmp.Or(tc.tier, "default")
	}
	c.shutdown()
	seen := 0
	if err := audit.Query(c.auditDir, audit.Filter{}, func(e *audit.Event) error {
		want, ok := ids[e.EventID]
		if !ok {
			return nil
		}
		seen++
		if got := cmp.Or(e.ServiceTier, "default"); got != want {
			t.Errorf("%s event of a %s request: serviceTier %q", e.Side, want, got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if seen != 2*len(ids) {
		t.Errorf("%d events for %d forwarded requests, want a source and a destination event each", seen, len(ids))
	}
}
