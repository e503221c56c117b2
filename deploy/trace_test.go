package deploy

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/node/nodetest"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/telemetry"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// syncBuffer is a log sink safe for the node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the JSON log lines that name request id.
func (s *syncBuffer) lines(t *testing.T, id string) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["request_id"] == id {
			out = append(out, m)
		}
	}
	return out
}

// TestOneTraceID: with tracing on, an operator goes from an answer's
// traceresponse to the request's log line (trace_id), its audit event
// (traceId) and its trace by one id; a request refused before it
// authenticated claims no trace anywhere: traceresponse flags 00, no
// trace_id in its lines, no traceId in its event (its span is not
// exported).
func TestOneTraceID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lc, err := pki.Provision(filepath.Join(dir, "link"), pki.DefaultTrustDomain, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) }))
	t.Cleanup(collector.Close)
	src := fmt.Sprintf(`
account: "111122223333"
geographies: { eu: { name: European Union } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53.3, lon: -6.3 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [{ id: demo.chat-small, name: Small, context_window: 8192 }]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: mock }, capacity: { max_concurrency: 4 } }
principals:
  - { id: app, api_keys: [%q], policies: [all] }
  - { id: narrow, api_keys: [%q], policies: [invoke] }
policies:
  all:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: ["bedrock:*"], Resource: ["*"] }
  invoke:
    Version: "2012-10-17"
    Statement:
      - { Effect: Allow, Action: ["bedrock:InvokeModel"], Resource: ["*"] }
link: { ca_file: %q, cert_file: %q, key_file: %q }
audit: { dir: %q }
server: { data_dir: %q }
telemetry: { otlp: { endpoint: %q }, traces: { enabled: true, sample_ratio: 0 } }
`, auth.HashKey("app-key"), auth.HashKey("narrow-key"), lc.CAFile, lc.CertFile, lc.KeyFile, filepath.Join(dir, "audit"), filepath.Join(dir, "data"), collector.URL)
	cfg, err := topology.Parse([]byte(src), "trace id test topology")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(telemetry.UniqueKeys(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	n := nodetest.Start(t, node.Options{Config: cfg, Region: "eu-west-1", ClientListener: listen(t), LinkListener: listen(t), Logger: log})

	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const chat = `{"model":"eu.demo.chat-small","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`
	for _, tc := range []struct {
		name         string
		key          string
		method, path string
		status       int
		claimed      bool
	}{
		{"authenticated", "app-key", "POST", "/v1/chat/completions", 200, true},
		{"refused before authentication", "wrong-key", "POST", "/v1/chat/completions", 401, false},
		// A control-plane call's span is never exported: its denial's log
		// line ("request denied") must not name the trace either.
		{"control plane denied", "narrow-key", "GET", "/inference-profiles", 403, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.method == "POST" {
				body = strings.NewReader(chat)
			}
			req, err := http.NewRequestWithContext(t.Context(), tc.method, "http://"+n.ClientAddr()+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+tc.key)
			// Sampled by the caller (the node's own ratio is 0).
			req.Header.Set("traceparent", "00-"+callerTrace+"-00f067aa0ba902b7-01")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			id := resp.Header.Get("X-Meridian-Request-Id")
			want, wantFlags := "", "00"
			if tc.claimed {
				want, wantFlags = callerTrace, "01"
			}
			if got := resp.Header.Get("traceresponse"); got == "" || !strings.HasPrefix(got, "00-"+callerTrace+"-") || !strings.HasSuffix(got, "-"+wantFlags) {
				t.Errorf("traceresponse %q, want trace %s with flags %s", got, callerTrace, wantFlags)
			}
			lines := logs.lines(t, id)
			if len(lines) == 0 {
				t.Fatalf("no log line names request %s", id)
			}
			for _, l := range lines {
				if got, _ := l["trace_id"].(string); got != want {
					t.Errorf("log line %q: trace_id %q, want %q", l["msg"], got, want)
				}
			}
			var events []*audit.Event
			if err := audit.Query(filepath.Join(dir, "audit", "eu-west-1"), audit.Filter{EventID: id}, func(e *audit.Event) error {
				events = append(events, e)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(events) != 1 || events[0].TraceID != want {
				t.Errorf("audit events %d, traceId %q; want one with %q", len(events), traceIDs(events), want)
			}
		})
	}
}

func traceIDs(es []*audit.Event) string {
	var ids []string
	for _, e := range es {
		ids = append(ids, e.TraceID)
	}
	return strings.Join(ids, ",")
}
