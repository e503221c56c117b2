package node

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/mockllm"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/topology"
	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// cluster is a set of real nodes on loopback, each with a mockllm upstream.
type cluster struct {
	t        *testing.T
	cfg      *topology.Config
	key      string
	nodes    map[string]*Node
	upstream map[string]*httptest.Server
	mocks    map[string]*mockllm.Server
	link     pki.LinkConfig
	auditDir string
}

type regionSpec struct{ id, geo string }

// clusterOption adjusts a test cluster's topology.
type clusterOption func(*clusterSettings)

type clusterSettings struct {
	testerPolicies []string
	concurrency    map[string]int
	loadInterval   string
	models         []extraModel
	observers      map[string]gateway.Recorder
	clock          clock.Clock // the nodes'; nil: the wall clock
	upstreamClock  mockllm.Clock
	deployments    []string // models and YAML deployment entries of withDeployments
	deployModels   []string
}

// withDeployments adds models and deployments (YAML entries of the
// deployments list) that the cluster's mockllm deployments cannot be, such
// as Bedrock ones.
func withDeployments(models []string, entries ...string) clusterOption {
	return func(s *clusterSettings) { s.deployModels, s.deployments = models, entries }
}

// extraModel is a model besides demo.chat-small, served by the listed
// regions' mockllm with the capabilities given per region ("" for the
// backend's defaults).
type extraModel struct {
	id   string
	caps map[string]string
}

// withModel adds a model served by the regions of caps.
func withModel(id string, caps map[string]string) clusterOption {
	return func(s *clusterSettings) { s.models = append(s.models, extraModel{id, caps}) }
}

// withLoadInterval sets link.load_interval (how often peers fetch state).
func withLoadInterval(d string) clusterOption {
	return func(s *clusterSettings) { s.loadInterval = d }
}

// withConcurrency sets regions' deployment max_concurrency (default 64),
// enforced by both the topology's capacity and the region's mockllm.
func withConcurrency(c map[string]int) clusterOption {
	return func(s *clusterSettings) { s.concurrency = c }
}

// withObserver gives region's node an extra observer (Options.Observer).
func withObserver(region string, o gateway.Recorder) clusterOption {
	return func(s *clusterSettings) {
		if s.observers == nil {
			s.observers = map[string]gateway.Recorder{}
		}
		s.observers[region] = o
	}
}

// withClocks runs the nodes on clk and their mockllm upstreams on
// upstream (two clocks, so that a test moves the nodes' time and the
// upstreams' pacing apart).
func withClocks(clk clock.Clock, upstream mockllm.Clock) clusterOption {
	return func(s *clusterSettings) { s.clock, s.upstreamClock = clk, upstream }
}

// withTesterPolicies attaches policies to the default "tester" principal.
func withTesterPolicies(names ...string) clusterOption {
	return func(s *clusterSettings) { s.testerPolicies = names }
}

func startCluster(t *testing.T, regions []regionSpec, extraYAML string, opts ...clusterOption) *cluster {
	t.Helper()
	var settings clusterSettings
	for _, o := range opts {
		o(&settings)
	}
	key, _ := auth.NewKey()
	c := &cluster{t: t, key: key, nodes: map[string]*Node{}, upstream: map[string]*httptest.Server{}, mocks: map[string]*mockllm.Server{}}
	var y strings.Builder
	ids := make([]string, len(regions))
	for i, r := range regions {
		ids[i] = r.id
	}
	// Every test cluster runs the real link: mutual TLS and signed envelopes.
	lc, err := pki.Provision(t.TempDir(), "", ids...)
	if err != nil {
		t.Fatal(err)
	}
	c.link = lc
	c.auditDir = t.TempDir()
	fmt.Fprintf(&y, "account: \"111122223333\"\naudit: {dir: %q, digest_interval: 1s}\nlink: {ca_file: %q, cert_file: %q, key_file: %q, load_interval: %s}\ngeographies:\n  us: {name: US}\n  eu: {name: EU}\n  apac: {name: APAC}\nregions:\n", c.auditDir, lc.CAFile, lc.CertFile, lc.KeyFile, cmp.Or(settings.loadInterval, "1s"))
	clientLns, linkLns := map[string]net.Listener{}, map[string]net.Listener{}
	for i, r := range regions {
		cl, _ := net.Listen("tcp", "127.0.0.1:0")
		ll, _ := net.Listen("tcp", "127.0.0.1:0")
		clientLns[r.id], linkLns[r.id] = cl, ll
		fmt.Fprintf(&y, "  - {id: %s, geography: %s, location: {lat: %d, lon: %d}, listen: %q, link: %q}\n", r.id, r.geo, 10*i, 10*i, cl.Addr(), ll.Addr())
	}
	y.WriteString("models:\n  - {id: demo.chat-small}\n")
	for _, m := range settings.models {
		fmt.Fprintf(&y, "  - {id: %s}\n", m.id)
	}
	for _, m := range settings.deployModels {
		fmt.Fprintf(&y, "  - {id: %s}\n", m)
	}
	y.WriteString("deployments:\n")
	for _, d := range settings.deployments {
		fmt.Fprintf(&y, "  - %s\n", d)
	}
	for _, r := range regions {
		conc := 64
		if v, ok := settings.concurrency[r.id]; ok {
			conc = v
		}
		srv := mockllm.New(mockllm.Config{Models: []string{"chat-small"}, TTFT: 20 * time.Millisecond, TokensPerSecond: 200, CompletionTokens: 12, Seed: 7, MaxConcurrency: conc, Clock: settings.upstreamClock,
			ServiceTiers: map[string][]string{"chat-small": {"priority", "flex"}}})
		hs := httptest.NewServer(srv.Handler())
		c.upstream[r.id], c.mocks[r.id] = hs, srv
		t.Cleanup(hs.Close)
		fmt.Fprintf(&y, "  - {model: demo.chat-small, region: %s, backend: {type: openai, url: %q, model: chat-small}, capacity: {max_concurrency: %d}, service_tiers: [priority, flex]}\n", r.id, hs.URL+"/v1", conc)
		for _, m := range settings.models {
			caps, ok := m.caps[r.id]
			if !ok {
				continue
			}
			if caps != "" {
				caps = ", capabilities: " + caps
			}
			fmt.Fprintf(&y, "  - {model: %s, region: %s, backend: {type: openai, url: %q, model: chat-small}%s}\n", m.id, r.id, hs.URL+"/v1", caps)
		}
	}
	fmt.Fprintf(&y, "principals:\n  - {id: tester, api_keys: [%q], policies: [%s]}\n", auth.HashKey(key), strings.Join(settings.testerPolicies, ", "))
	y.WriteString(extraYAML)
	cfg, err := topology.Parse([]byte(y.String()), "cluster.yaml")
	if err != nil {
		t.Fatalf("topology: %v\n%s", err, y.String())
	}
	c.cfg = cfg
	for _, r := range regions {
		n, err := New(Options{Config: cfg, Region: r.id, ClientListener: clientLns[r.id], LinkListener: linkLns[r.id], Observer: settings.observers[r.id], Clock: settings.clock,
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.nodes[r.id] = n
	}
	t.Cleanup(c.shutdown)
	return c
}

// shutdown drains every node at once (each waits up to a second for HTTP/2
// peers to acknowledge its GOAWAY); their audit writers flush every event
// and a final digest. Shutting a node down twice is harmless.
func (c *cluster) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Go(func() { n.Shutdown(ctx) })
	}
	wg.Wait()
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (c *cluster) url(region string) string { return "http://" + c.nodes[region].ClientAddr() }

func (c *cluster) client(region string) oa.Client {
	return oa.NewClient(option.WithBaseURL(c.url(region)+"/v1"), option.WithAPIKey(c.key), option.WithMaxRetries(0))
}

// post sends a raw chat completion and returns status, headers and body.
// post sends a chat completion to region's node. It may be called from
// worker goroutines: a transport error is reported with Errorf and status 0.
func (c *cluster) post(region, body, key string) (int, http.Header, []byte) {
	c.t.Helper()
	return postTo(c.t, c.url(region), key, body)
}

func chatBody(model string, stream bool) string {
	return fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":"Where does my data go?"}],"max_tokens":8}`, model, stream)
}

var threeRegions = []regionSpec{{"us-east-1", "us"}, {"eu-west-1", "eu"}, {"eu-central-1", "eu"}}

func TestProfilesEndToEnd(t *testing.T) {
	c := startCluster(t, threeRegions, "")
	eu := []string{"eu-west-1", "eu-central-1"}

	t.Run("eu profile served in the EU with route headers", func(t *testing.T) {
		var raw *http.Response
		cl := c.client("eu-west-1")
		resp, err := cl.Chat.Completions.New(t.Context(), oa.ChatCompletionNewParams{
			Model:    "eu.demo.chat-small",
			Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hello")},
		}, option.WithResponseInto(&raw))
		if err != nil {
			t.Fatalf("eu.demo.chat-small on eu-west-1: %v", err)
		}
		if got := raw.Header.Get("X-Meridian-Inference-Region"); !slices.Contains(eu, got) {
			t.Errorf("x-meridian-inference-region = %q, want one of %v", got, eu)
		}
		for _, h := range []string{"X-Meridian-Request-Id", "X-Meridian-Source-Region", "X-Meridian-Inference-Profile", "X-Meridian-Route"} {
			if raw.Header.Get(h) == "" {
				t.Errorf("response lacks %s", h)
			}
		}
		if raw.Header.Get("X-Meridian-Source-Region") != "eu-west-1" || raw.Header.Get("X-Meridian-Inference-Profile") != "eu.demo.chat-small" {
			t.Errorf("headers %v", raw.Header)
		}
		if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" || resp.Usage.CompletionTokens == 0 {
			t.Errorf("response = %+v", resp)
		}
	})

	t.Run("us profile from the EU is a 4xx that says why", func(t *testing.T) {
		status, _, body := c.post("eu-west-1", chatBody("us.demo.chat-small", false), c.key)
		if status != 400 || !strings.Contains(string(body), "geography us") || !strings.Contains(string(body), "invalid_request_error") {
			t.Errorf("status %d body %s, want 400 naming geography us", status, body)
		}
	})

	t.Run("global profile is served", func(t *testing.T) {
		for _, r := range []string{"us-east-1", "eu-west-1"} {
			status, h, body := c.post(r, chatBody("global.demo.chat-small", false), c.key)
			if status != 200 || h.Get("X-Meridian-Inference-Region") == "" {
				t.Errorf("global from %s: %d %s", r, status, body)
			}
		}
	})

	t.Run("throttled source region fails over inside the geography", func(t *testing.T) {
		c.mocks["eu-west-1"].SetThrottled(5 * time.Second)
		defer c.mocks["eu-west-1"].SetThrottled(0)
		for _, stream := range []bool{false, true} {
			status, h, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", stream), c.key)
			if status != 200 || h.Get("X-Meridian-Inference-Region") != "eu-central-1" {
				t.Fatalf("stream=%v: status %d region %q body %s, want 200 from eu-central-1", stream, status, h.Get("X-Meridian-Inference-Region"), body)
			}
			// The first call fails over; later ones skip the cooling region.
			if r := h.Get("X-Meridian-Route"); r != "failover:throttled:eu-west-1" && r != "headroom" {
				t.Errorf("stream=%v: route %q", stream, r)
			}
		}
	})

	t.Run("errors in OpenAI's shape", func(t *testing.T) {
		big := `{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"` + strings.Repeat("x", topology.DefaultMaxRequestBytes+1) + `"}]}`
		tests := []struct {
			name, body, key string
			status          int
			errType         string
		}{
			{"malformed JSON", `{"model":`, c.key, 400, "invalid_request_error"},
			{"unknown profile", chatBody("eu.gpt-9", false), c.key, 404, "invalid_request_error"},
			{"missing key", chatBody("eu.demo.chat-small", false), "", 401, "authentication_error"},
			{"wrong key", chatBody("eu.demo.chat-small", false), "mk-wrong", 401, "authentication_error"},
			{"body over the limit", big, c.key, 413, "invalid_request_error"},
			{"no messages", `{"model":"eu.demo.chat-small","messages":[]}`, c.key, 400, "invalid_request_error"},
			{"n=0", `{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"x"}],"n":0}`, c.key, 400, "invalid_request_error"},
		}
		for _, tc := range tests {
			status, h, body := c.post("eu-west-1", tc.body, tc.key)
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Errorf("%s: body %q is not JSON", tc.name, body)
			}
			if status != tc.status || e.Error.Type != tc.errType || e.Error.Message == "" {
				t.Errorf("%s: status %d type %q message %q, want %d %s", tc.name, status, e.Error.Type, e.Error.Message, tc.status, tc.errType)
			}
			if h.Get("X-Meridian-Request-Id") == "" {
				t.Errorf("%s: no request id", tc.name)
			}
		}
		// The official client maps the status to its typed error.
		bad := oa.NewClient(option.WithBaseURL(c.url("eu-west-1")+"/v1"), option.WithAPIKey("mk-wrong"), option.WithMaxRetries(0))
		_, err := bad.Chat.Completions.New(t.Context(), oa.ChatCompletionNewParams{Model: "eu.demo.chat-small", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("x")}})
		var apiErr *oa.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
			t.Errorf("openai-go error = %v, want *openai.Error 401", err)
		}
	})

	t.Run("models lists what the region may call", func(t *testing.T) {
		cl := c.client("eu-west-1")
		page, err := cl.Models.List(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		for _, want := range []string{"eu.demo.chat-small", "global.demo.chat-small", "demo.chat-small"} {
			if !slices.Contains(ids, want) {
				t.Errorf("models %v lack %s", ids, want)
			}
		}
		if slices.Contains(ids, "us.demo.chat-small") {
			t.Errorf("models %v list us.demo.chat-small, which eu-west-1 may not call", ids)
		}
	})
}

func TestStreamingEndToEnd(t *testing.T) {
	c := startCluster(t, threeRegions, "")
	cl := c.client("eu-west-1")
	for _, model := range []string{"eu.demo.chat-small", "global.demo.chat-small"} {
		stream := cl.Chat.Completions.NewStreaming(t.Context(), oa.ChatCompletionNewParams{
			Model:         oa.ChatModel(model),
			Messages:      []oa.ChatCompletionMessageParamUnion{oa.UserMessage("stream please")},
			StreamOptions: oa.ChatCompletionStreamOptionsParam{IncludeUsage: oa.Bool(true)},
		})
		var text strings.Builder
		var arrivals []time.Time
		var usage int64
		finish := ""
		for stream.Next() {
			ch := stream.Current()
			if len(ch.Choices) > 0 {
				if ch.Choices[0].Delta.Content != "" {
					text.WriteString(ch.Choices[0].Delta.Content)
					arrivals = append(arrivals, time.Now())
				}
				if ch.Choices[0].FinishReason != "" {
					finish = ch.Choices[0].FinishReason
				}
			}
			if ch.Usage.TotalTokens > 0 {
				usage = ch.Usage.CompletionTokens
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("%s: stream error %v", model, err)
		}
		if text.Len() == 0 || len(arrivals) < 3 || finish == "" {
			t.Fatalf("%s: text %q in %d chunks, finish %q", model, text.String(), len(arrivals), finish)
		}
		if usage != int64(len(arrivals)) {
			t.Errorf("%s: usage says %d completion tokens, %d content chunks arrived", model, usage, len(arrivals))
		}
		// That chunks are relayed as they come, not buffered, is
		// TestStreamIsRelayedAsItComes's (without a wall-clock window).
	}

	// The raw wire ends with data: [DONE].
	status, h, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", true), c.key)
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream status %d content-type %q", status, h.Get("Content-Type"))
	}
	if !bytes.HasSuffix(bytes.TrimSpace(body), []byte("data: [DONE]")) || !bytes.Contains(body, []byte(`"object":"chat.completion.chunk"`)) {
		t.Errorf("stream body does not end with [DONE]:\n%s", body)
	}
	if h.Get("X-Meridian-Inference-Region") == "" {
		t.Error("stream response lacks x-meridian-inference-region")
	}
}

func TestResidencyWhenGeographyIsDown(t *testing.T) {
	c := startCluster(t, threeRegions, "")
	// Kill both EU upstreams: connections are refused from now on.
	c.upstream["eu-west-1"].Close()
	c.upstream["eu-central-1"].Close()
	for i := 0; i < 5; i++ {
		for _, stream := range []bool{false, true} {
			status, h, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", stream), c.key)
			if status < 429 || (status != 429 && status < 500) {
				t.Fatalf("eu request with both EU backends down: status %d body %s, want 429 or 5xx", status, body)
			}
			if got := h.Get("X-Meridian-Inference-Region"); got != "" {
				t.Fatalf("eu request served in %q with both EU backends down", got)
			}
			var e struct{ Error struct{ Message string } }
			json.Unmarshal(body, &e)
			if e.Error.Message == "" || strings.Contains(e.Error.Message, "us-east-1") {
				t.Errorf("error message %q should explain without naming non-EU regions", e.Error.Message)
			}
		}
	}
	// The global profile still answers, from the US.
	status, h, body := c.post("eu-west-1", chatBody("global.demo.chat-small", false), c.key)
	if status != 200 || h.Get("X-Meridian-Inference-Region") != "us-east-1" {
		t.Fatalf("global with EU down: status %d region %q body %s, want 200 from us-east-1", status, h.Get("X-Meridian-Inference-Region"), body)
	}
	// Every request counted by the EU node's metrics ran in the EU or nowhere.
	resp, err := authGet(c.url("eu-west-1")+"/metrics", c.key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(m), "\n") {
		if strings.HasPrefix(line, "meridian_requests_total{") && strings.Contains(line, `profile="eu.demo.chat-small"`) && strings.Contains(line, `inference_region="us-`) {
			t.Errorf("eu profile served in the US: %s", line)
		}
	}
}

func TestOperationalEndpoints(t *testing.T) {
	c := startCluster(t, threeRegions, "")
	get := func(path string) (int, string) {
		resp, err := authGet(c.url("eu-west-1")+path, c.key)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if s, _ := get("/healthz"); s != 200 {
		t.Errorf("/healthz = %d", s)
	}
	if s, _ := get("/readyz"); s != 200 {
		t.Errorf("/readyz = %d", s)
	}
	c.post("eu-west-1", chatBody("eu.demo.chat-small", false), c.key)
	if s, body := get("/metrics"); s != 200 || !strings.Contains(body, "meridian_requests_total{") || !strings.Contains(body, "meridian_request_duration_seconds_bucket") ||
		!strings.Contains(body, "meridian_time_to_first_token_seconds_bucket") {
		t.Errorf("/metrics = %d, missing request metrics", s)
	}
	// Every Meridian series carries the node's region, including those of
	// the quota, link and certificate stores (docs/operations.md).
	_, metrics := get("/metrics")
	seen := map[string]bool{}
	for line := range strings.SplitSeq(metrics, "\n") {
		if !strings.HasPrefix(line, "meridian_") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		seen[strings.Fields(name)[0]] = true
		if !strings.Contains(line, `region="eu-west-1"`) {
			t.Errorf("series without the region label: %s", line)
		}
	}
	for _, want := range []string{"meridian_link_certificate_expiry_seconds", "meridian_quota_store_up"} {
		if !seen[want] {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	s, body := get("/meridian/v1/regions")
	var v RegionsView
	if s != 200 || json.Unmarshal([]byte(body), &v) != nil || len(v.Regions) != 3 || v.Region != "eu-west-1" {
		t.Fatalf("/meridian/v1/regions = %d %s", s, body)
	}
	for _, r := range v.Regions {
		if !r.Healthy || r.Geography == "" || r.Endpoint == "" {
			t.Errorf("region view %+v", r)
		}
	}
}

func TestDrainLetsStreamsFinish(t *testing.T) {
	c := startCluster(t, threeRegions, "")
	n := c.nodes["eu-west-1"]
	body := `{"model":"demo.chat-small","stream":true,"messages":[{"role":"user","content":"long"}],"max_tokens":12}`
	req, _ := http.NewRequest("POST", c.url("eu-west-1")+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- n.Shutdown(ctx)
	}()
	b, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Contains(b, []byte("data: [DONE]")) {
		t.Fatalf("in-flight stream during drain: err %v body %s", err, b)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if n.Ready() {
		t.Error("node still ready after drain")
	}
}

// peerClient speaks to a node's link as region's genuine node would: mutual
// TLS with region's certificate, and envelopes signed with its key.
type peerClient struct {
	t      *testing.T
	region string
	store  *pki.Store
	http   *http.Client
}

func (c *cluster) peer(t *testing.T, region, dialled string) *peerClient {
	store, err := pki.NewStore(c.link.StoreOptions(region))
	if err != nil {
		t.Fatal(err)
	}
	return &peerClient{t: t, region: region, store: store,
		http: &http.Client{Transport: &http.Transport{TLSClientConfig: store.ClientTLSConfig(dialled), ForceAttemptHTTP2: true}}}
}

// forward sends a signed forward; mutate may alter the request after
// signing (attacks).
func (p *peerClient) forward(addr string, env envelope.Envelope, body string, mutate func(*http.Request)) (int, string) {
	p.t.Helper()
	env.IssuedAt = time.Now()
	env.BodySHA256 = envelope.HashBody([]byte(body))
	sealed, err := envelope.Sign(env, p.store.Certificate())
	if err != nil {
		p.t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "https://"+addr+"/link/v1/invoke", strings.NewReader(body))
	sealed.SetHeaders(req.Header)
	req.Header.Set("Meridian-Principal", env.PrincipalID)
	if mutate != nil {
		mutate(req)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDestinationRechecksResidency(t *testing.T) {
	c := startCluster(t, threeRegions, "")
	addr := c.nodes["eu-west-1"].LinkAddr()
	arn := func(region, id string) string {
		return "arn:aws:bedrock:" + region + ":111122223333:inference-profile/" + id
	}
	body := `{"model":"x","messages":[{"role":"user","content":[{"text":"hi"}]}],"maxTokens":4}`
	fromCentral := c.peer(t, "eu-central-1", "eu-west-1")
	fromUS := c.peer(t, "us-east-1", "eu-west-1")
	// A rogue: connected with eu-central-1's certificate, signing as us-east-1.
	rogue := &peerClient{t: t, region: "us-east-1", store: fromUS.store, http: fromCentral.http}
	valid := envelope.Envelope{RequestID: "req-valid", SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1", PrincipalID: "tester", ProfileARN: arn("eu-central-1", "eu.demo.chat-small")}
	before := c.mocks["eu-west-1"].Stats()

	if status, b := fromCentral.forward(addr, valid, body, nil); status != 200 {
		t.Fatalf("valid forward: %d %s", status, b)
	}
	replayed := valid
	replayed.RequestID = "req-replay"
	tests := []struct {
		name   string
		peer   *peerClient
		env    envelope.Envelope
		body   string
		mutate func(*http.Request)
		want   string
	}{
		{"a us. profile asked of an EU destination", fromUS, envelope.Envelope{RequestID: "r1", SourceRegion: "us-east-1", DestinationRegion: "eu-west-1", PrincipalID: "tester", ProfileARN: arn("us-east-1", "us.demo.chat-small")}, body, nil, "profile_excludes_destination"},
		{"an eu. profile from a US source", fromUS, envelope.Envelope{RequestID: "r2", SourceRegion: "us-east-1", DestinationRegion: "eu-west-1", PrincipalID: "tester", ProfileARN: arn("us-east-1", "eu.demo.chat-small")}, body, nil, "geography_mismatch"},
		{"a destination other than the receiver", fromCentral, envelope.Envelope{RequestID: "r3", SourceRegion: "eu-central-1", DestinationRegion: "eu-central-1", PrincipalID: "tester", ProfileARN: arn("eu-central-1", "eu.demo.chat-small")}, body, nil, "wrong_destination"},
		{"a source region that is not the connection's", rogue, envelope.Envelope{RequestID: "r4", SourceRegion: "us-east-1", DestinationRegion: "eu-west-1", PrincipalID: "tester", ProfileARN: arn("us-east-1", "global.demo.chat-small")}, body, nil, "region_mismatch"},
		{"an altered body", fromCentral, envelope.Envelope{RequestID: "r5", SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1", PrincipalID: "tester", ProfileARN: arn("eu-central-1", "eu.demo.chat-small")}, body,
			func(r *http.Request) { r.Body = io.NopCloser(strings.NewReader(strings.Replace(body, "hi", "ho", 1))) }, "body_hash"},
		{"a replayed envelope", fromCentral, valid, body, nil, "replay"},
		{"an unknown principal", fromCentral, envelope.Envelope{RequestID: "r6", SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1", PrincipalID: "mallory", ProfileARN: arn("eu-central-1", "eu.demo.chat-small")}, body, nil, "unknown principal"},
	}
	for _, tc := range tests {
		var status int
		var b string
		if tc.name == "a replayed envelope" {
			// Resend the exact bytes of an accepted envelope.
			status, b = replay(t, fromCentral, addr, valid, body)
		} else {
			status, b = tc.peer.forward(addr, tc.env, tc.body, tc.mutate)
		}
		if status != 403 || !strings.Contains(b, tc.want) {
			t.Errorf("%s: status %d body %s, want 403 mentioning %q", tc.name, status, b, tc.want)
		}
	}
	// Only the valid forward and the first send of the replayed envelope
	// reached the model.
	if got := c.mocks["eu-west-1"].Stats().Requests - before.Requests; got != 2 {
		t.Errorf("upstream saw %d requests, want 2 (refused forwards must leave no inference)", got)
	}
	// Plain HTTP is refused.
	resp, err := http.Post("http://"+addr+"/link/v1/invoke", "application/json", strings.NewReader(body))
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP forward accepted")
		}
	}
}

// replay signs one envelope and sends it twice; it returns the second answer.
func replay(t *testing.T, p *peerClient, addr string, env envelope.Envelope, body string) (int, string) {
	env.RequestID = "req-replayed"
	env.IssuedAt = time.Now()
	env.BodySHA256 = envelope.HashBody([]byte(body))
	sealed, err := envelope.Sign(env, p.store.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	var status int
	var text string
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("POST", "https://"+addr+"/link/v1/invoke", strings.NewReader(body))
		sealed.SetHeaders(req.Header)
		req.Header.Set("Meridian-Principal", env.PrincipalID)
		resp, err := p.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, text = resp.StatusCode, string(b)
		if i == 0 && status != 200 {
			t.Fatalf("first send of the replayed envelope: %d %s", status, text)
		}
	}
	return status, text
}

func TestNodeRefusesInsecureLinkWithoutDev(t *testing.T) {
	cfg, err := topology.Parse([]byte(`account: "111122223333"
audit: { disabled: true }
link: { insecure_dev_link: true }
geographies: { eu: {name: EU} }
regions: [{id: eu-west-1, geography: eu, location: {lat: 1, lon: 1}, listen: "127.0.0.1:0", link: "127.0.0.1:1"}]
models: [{id: m}]
deployments: [{model: m, region: eu-west-1, backend: {type: mock}}]
`), "insecure.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Config: cfg, Region: "eu-west-1"}); err == nil || !strings.Contains(err.Error(), "--dev") {
		t.Errorf("New with insecure_dev_link and no --dev = %v, want a refusal naming --dev", err)
	}
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true})
	if err != nil {
		t.Fatalf("New with --dev = %v", err)
	}
	n.closeBackends()
	cfg.Link.InsecureDevLink = false
	if _, err := New(Options{Config: cfg, Region: "eu-west-1"}); err == nil || !strings.Contains(err.Error(), "meridian certs init") {
		t.Errorf("New without link certificates = %v, want an error with the fix", err)
	}
}

// TestTopologyMismatchIsReported: a node whose peers run a different
// residency topology says so (metric, regions endpoint) and still serves
// only what its own topology allows.
func TestTopologyMismatchIsReported(t *testing.T) {
	c := startCluster(t, threeRegions, "")
	n := c.nodes["eu-west-1"]
	// The nodes run on the wall clock: whether a peer's state came before
	// the catalog change below decides whether the difference would wait
	// out topologySettle (TestProfilePropagationIsNotATopologyMismatch
	// covers that on a manual clock). Here it is reported at once.
	n.digests.mu.Lock()
	n.digests.unsettled = true
	n.digests.mu.Unlock()
	// Simulate a rollout that reached only eu-west-1: a new profile there.
	cat, _, err := n.Gateway().Catalog().WithApplication(profile.Profile{ID: "only-here", CopyFrom: "eu.demo.chat-small"})
	if err != nil {
		t.Fatal(err)
	}
	n.Gateway().SetCatalog(cat)
	// The peers' next states (fetched or pushed over the link) reach
	// eu-west-1: deliver them now rather than wait for the exchange.
	for _, peer := range []string{"us-east-1", "eu-central-1"} {
		body, err := json.Marshal(c.nodes[peer].state())
		if err != nil {
			t.Fatal(err)
		}
		n.onPeerState(peer, body, 0)
	}
	resp, err := authGet(c.url("eu-west-1")+"/meridian/v1/regions", c.key)
	if err != nil {
		t.Fatal(err)
	}
	var v RegionsView
	json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	mismatched := 0
	for _, r := range v.Regions {
		if r.TopologyMismatch {
			mismatched++
		}
	}
	if mismatched != 2 {
		t.Fatalf("regions view reports %d mismatched peers, want 2: %+v", mismatched, v.Regions)
	}
	resp, _ = authGet(c.url("eu-west-1")+"/metrics", c.key)
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(m), `meridian_topology_mismatch{peer="eu-central-1",region="eu-west-1"} 1`) {
		t.Error("meridian_topology_mismatch not 1 for eu-central-1")
	}
	// The profile only eu-west-1 knows runs only where the destination's
	// own topology agrees: with eu-west-1 busy, eu-central-1 is asked and
	// refuses it; nothing runs there.
	before := c.mocks["eu-central-1"].Stats().Requests
	c.mocks["eu-west-1"].SetThrottled(10 * time.Second)
	status, h, body := c.post("eu-west-1", chatBody("only-here", false), c.key)
	if status != 403 || h.Get("X-Meridian-Inference-Region") != "" || !strings.Contains(string(body), "destination") {
		t.Errorf("only-here with eu-west-1 busy: %d %q %s, want 403 refused by the destination", status, h.Get("X-Meridian-Inference-Region"), body)
	}
	if got := c.mocks["eu-central-1"].Stats().Requests - before; got != 0 {
		t.Errorf("eu-central-1 ran %d requests of a profile its topology does not have", got)
	}
}

// TestStreamIsRelayedAsItComes: a stream's chunks reach the client while
// the backend is still generating: the upstream sends two chunks and then
// waits for the test, which must receive both before it lets the upstream
// finish.
func TestStreamIsRelayedAsItComes(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := func(delta string) {
			fmt.Fprintf(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"chat-small\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", delta)
			w.(http.Flusher).Flush()
		}
		chunk("hel")
		chunk("lo")
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		fmt.Fprint(w, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"chat-small\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
		fmt.Fprint(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(up.Close)
	key, _ := auth.NewKey()
	cfg, err := topology.Parse([]byte(fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [ { id: demo.chat-small } ]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: openai, url: %q, model: chat-small } }
principals: [ { id: tester, api_keys: [%q] } ]
`, up.URL+"/v1", auth.HashKey(key))), "relay.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll, AuditDir: t.TempDir(), DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))})
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
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+cl.Addr().String()+"/v1/chat/completions",
		strings.NewReader(chatBody("eu.demo.chat-small", true)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("stream: %d %s", resp.StatusCode, b)
	}
	got := make(chan string, 1)
	go func() {
		// Read until both chunks' text arrived; the upstream is still
		// holding the rest.
		sc := bufio.NewScanner(resp.Body)
		var text strings.Builder
		for sc.Scan() {
			var ev struct {
				Choices []struct {
					Delta struct{ Content string } `json:"delta"`
				} `json:"choices"`
			}
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && json.Unmarshal([]byte(data), &ev) == nil && len(ev.Choices) > 0 {
				text.WriteString(ev.Choices[0].Delta.Content)
			}
			if text.String() == "hello" {
				break
			}
		}
		got <- text.String()
	}()
	select {
	case s := <-got:
		if s != "hello" {
			t.Fatalf("read %q before the stream ended, want hello", s)
		}
	case <-time.After(time.Minute): // a hang guard only: a buffered stream never shows its chunks
		t.Fatal("the stream's first chunks did not reach the client while the backend was still generating")
	}
	close(release)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.HasSuffix(bytes.TrimSpace(rest), []byte("data: [DONE]")) {
		t.Errorf("rest of the stream: %v %q, want it to end with [DONE]", err, rest)
	}
}
