package deploy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/node/nodetest"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// dashboard is the part of a Grafana dashboard the test reads.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // a collapsed row's
	GridPos struct {
		X, W int
	} `json:"gridPos"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

var (
	promStringRE   = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promMatchersRE = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promGroupingRE = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdentRE    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelValuesRE  = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)
	promKeywords   = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan", "atan2", "start", "end"}
)

// metricNames returns the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges and grouping
// clauses are removed that are neither function calls, keywords, Grafana
// variables ($name) nor parts of numbers and durations.
func metricNames(expr string) []string {
	s := promStringRE.ReplaceAllString(expr, `""`)
	s = promMatchersRE.ReplaceAllString(s, " ")
	s = promGroupingRE.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdentRE.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 {
			if c := s[loc[0]-1]; c == '$' || c == '.' || (c >= '0' && c <= '9') {
				continue // a variable, or a number's exponent or a duration's unit
			}
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") || slices.Contains(promKeywords, strings.ToLower(name)) {
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		expr string
		want []string
	}{
		{`sum by (source_region, status) (rate(meridian_requests_total{region=~"$region"}[$__rate_interval]))`, []string{"meridian_requests_total"}},
		{`histogram_quantile(0.95, sum by (le) (rate(meridian_request_duration_seconds_bucket[5m])))`, []string{"meridian_request_duration_seconds_bucket"}},
		{`sum(rate(a_total{reason!="meridian_not_a_metric"}[1m] offset 1h)) / on (region) group_left (x) b * 1e3`, []string{"a_total", "b"}},
		{`min by (region) (meridian_link_certificate_expiry_seconds) / 86400 > bool 7`, []string{"meridian_link_certificate_expiry_seconds"}},
		{`meridian_peer_up unless meridian_topology_mismatch`, []string{"meridian_peer_up", "meridian_topology_mismatch"}},
	}
	for _, tc := range tests {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// nodeMetrics starts a node of a two-region topology with a real mTLS link,
// the audit trail and the memory quota store, serves one request so that
// histograms have samples, and returns its registry and gathered families.
func nodeMetrics(t *testing.T) (*prometheus.Registry, map[string]dto.MetricType) {
	t.Helper()
	dir := t.TempDir()
	lc, err := pki.Provision(filepath.Join(dir, "link"), pki.DefaultTrustDomain, "eu-west-1", "eu-central-1")
	if err != nil {
		t.Fatal(err)
	}
	// The peer's link address is a closed port on loopback: it is probed
	// and reported down, which is what meridian_peer_up is for.
	peer := listen(t)
	peerAddr := peer.Addr().String()
	peer.Close()
	src := fmt.Sprintf(`
account: "111122223333"
geographies: { eu: { name: European Union } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53.3, lon: -6.3 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: eu-central-1, geography: eu, location: { lat: 50.1, lon: 8.7 }, listen: "127.0.0.1:3", link: %q }
models: [{ id: demo.chat-small, name: Small, context_window: 8192 }]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: mock }, capacity: { max_concurrency: 4, rpm: 600, tpm: 100000 } }
  - { model: demo.chat-small, region: eu-central-1, backend: { type: mock }, capacity: { max_concurrency: 4, rpm: 600, tpm: 100000 } }
principals:
  - { id: app, api_keys: [%q], limits: { rpm: 600 } }
link: { ca_file: %q, cert_file: %q, key_file: %q }
audit: { dir: %q }
server: { data_dir: %q }
`, peerAddr, auth.HashKey("app-key"), lc.CAFile, lc.CertFile, lc.KeyFile, filepath.Join(dir, "audit"), filepath.Join(dir, "data"))
	cfg, err := topology.Parse([]byte(src), "dashboard test topology")
	if err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, node.Options{Config: cfg, Region: "eu-west-1", ClientListener: listen(t), LinkListener: listen(t)})
	req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+n.ClientAddr()+"/v1/chat/completions",
		strings.NewReader(`{"model":"eu.demo.chat-small","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer app-key")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("chat completion = %d, want 200", resp.StatusCode)
	}
	reg := n.Gateway().Metrics().Registry
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]dto.MetricType{}
	for _, f := range fams {
		types[f.GetName()] = f.GetType()
	}
	return reg, types
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// probe is a collector describing one metric name, used to ask a registry
// whether a collector with that name is registered (vectors with no child
// yet are absent from Gather).
type probe struct{ desc *prometheus.Desc }

func (p probe) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }
func (p probe) Collect(chan<- prometheus.Metric)    {}

// registered reports whether reg holds a collector of the named metric:
// registering a different description under the same name fails then.
func registered(reg *prometheus.Registry, name string) bool {
	p := probe{prometheus.NewDesc(name, "registration probe", nil, nil)}
	if err := reg.Register(p); err != nil {
		return true
	}
	reg.Unregister(p)
	return false
}

// TestDashboardMetrics fails on any query of the Grafana dashboard that
// names a metric a node does not register, so that renaming a metric
// cannot silently blank a panel.
func TestDashboardMetrics(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("grafana/meridian.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana/meridian.json: %v", err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q title %q, want both set", d.UID, d.Title)
	}

	// Every expression, by where it is.
	exprs := map[string]string{}
	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if prev, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			if p.GridPos.X < 0 || p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("panel %q: gridPos x=%d w=%d is outside the 24 columns", p.Title, p.GridPos.X, p.GridPos.W)
			}
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for i, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q target %d has no expr", p.Title, i)
				}
				exprs[fmt.Sprintf("panel %q target %d", p.Title, i)] = tg.Expr
			}
		}
	}
	walk(d.Panels)
	var used []string
	add := func(where string, names []string) {
		if len(names) == 0 {
			t.Errorf("%s selects no metric", where)
		}
		for _, n := range names {
			used = append(used, where+"\x00"+n)
		}
	}
	for where, e := range exprs {
		add(where, metricNames(e))
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			if err := json.Unmarshal(v.Query, &q.Query); err != nil {
				t.Fatalf("variable %s: query %s", v.Name, v.Query)
			}
		}
		m := labelValuesRE.FindStringSubmatch(q.Query)
		if m == nil {
			t.Errorf("variable %s: query %q, want label_values(metric, label)", v.Name, q.Query)
			continue
		}
		add("variable "+v.Name, []string{m[1]})
	}
	sort.Strings(used)

	reg, types := nodeMetrics(t)
	seen := map[string]bool{}
	for _, u := range used {
		where, name, _ := strings.Cut(u, "\x00")
		seen[name] = true
		if !strings.HasPrefix(name, "meridian_") {
			t.Errorf("%s: %s is not a Meridian metric", where, name)
			continue
		}
		if registered(reg, name) {
			continue
		}
		base, histogram := "", false
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if b, cut := strings.CutSuffix(name, suffix); cut && registered(reg, b) {
				base, histogram = b, types[b] == dto.MetricType_HISTOGRAM
			}
		}
		switch {
		case base == "":
			t.Errorf("%s: the node registers no metric %s", where, name)
		case !histogram:
			// The base has samples (the test served a request), so its
			// type is known: only histograms have these series.
			t.Errorf("%s: %s, but %s is a %v, not a histogram", where, name, base, types[base])
		}
	}

	// The dashboard covers what an operator asks first.
	for _, want := range []string{
		"meridian_requests_total", "meridian_request_duration_seconds_bucket", "meridian_time_to_first_token_seconds_bucket",
		"meridian_route_decisions_total", "meridian_failovers_total", "meridian_peer_up", "meridian_link_served_total",
		"meridian_quota_rejections_total", "meridian_quota_store_up", "meridian_audit_available", "meridian_audit_events_failed_total",
		"meridian_link_certificate_expiry_seconds", "meridian_config_reloads_total",
		"meridian_attempts_total", "meridian_destinations_skipped_total", "meridian_profile_not_callable_total",
	} {
		if !seen[want] {
			t.Errorf("the dashboard does not query %s", want)
		}
	}

	// The probe itself tells a missing metric apart.
	if registered(reg, "meridian_no_such_metric_total") {
		t.Error("registered(meridian_no_such_metric_total) = true, want false")
	}
}
