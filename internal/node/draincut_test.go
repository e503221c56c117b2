package node

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestDrainTimeoutCutsStreams: a stream still running when the drain
// timeout passes is cut through its normal path: Shutdown returns nil (the
// drain did its job: exit 0), and the stream's own audit event carries the
// usage it delivered, its attempt and errorCode "shutdown", never the
// crash-recovery path's "interrupted" event with no usage.
func TestDrainTimeoutCutsStreams(t *testing.T) {
	sent := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat-small","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`+"\n\n")
		for range 5 {
			fmt.Fprint(w, `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"chat-small","choices":[{"index":0,"delta":{"content":"token token "}}]}`+"\n\n")
		}
		w.(http.Flusher).Flush()
		close(sent)
		<-r.Context().Done() // a model that has more to say: ends when the node cancels the call
	}))
	t.Cleanup(up.Close)
	key, _ := auth.NewKey()
	y := fmt.Sprintf(`account: "111122223333"
link: { insecure_dev_link: true }
server: { drain_timeout: 2s }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [ { id: demo.chat-small } ]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: openai, url: %q, model: chat-small } }
principals:
  - { id: alice, api_keys: [%q], limits: { tpm: 100000 } }
`, up.URL+"/v1", auth.HashKey(key))
	cfg, err := topology.Parse([]byte(y), "drain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	auditDir := t.TempDir()
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	ll, _ := net.Listen("tcp", "127.0.0.1:0")
	nd, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, ClientListener: cl, LinkListener: ll, AuditDir: auditDir, DataDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := nd.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+cl.Addr().String()+"/v1/chat/completions", strings.NewReader(chatBody("demo.chat-small", true)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	id := resp.Header.Get("X-Meridian-Request-Id")
	// Read until the five deltas arrived: the stream is in flight.
	br := bufio.NewReader(resp.Body)
	for deltas := 0; deltas < 5; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended early: %v", err)
		}
		if strings.Contains(line, "token token") {
			deltas++
		}
	}
	<-sent

	// The drain timeout has passed (a deadline in the past: no waiting).
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	if err := nd.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown after a drain that cut a stream = %v, want nil (exit 0)", err)
	}

	var events []*audit.Event
	if err := audit.Query(auditDir, audit.Filter{}, func(e *audit.Event) error {
		if e.EventID == id {
			events = append(events, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d events for %s, want exactly 1", len(events), id)
	}
	e := events[0]
	if e.ErrorCode != "shutdown" || e.Usage.OutputTokens <= 0 || e.Usage.InputTokens <= 0 || len(e.Attempts) != 1 || e.InferenceRegion != "eu-west-1" {
		t.Errorf("event: errorCode %q usage %+v attempts %d inference %q; want shutdown, the delivered usage, 1 attempt, eu-west-1",
			e.ErrorCode, e.Usage, len(e.Attempts), e.InferenceRegion)
	}
}
