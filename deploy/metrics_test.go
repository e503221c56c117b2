package deploy

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/node"
	"github.com/meridian-gateway/meridian/internal/node/nodetest"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestOperatorSeries runs a node, sends a served request and a request for
// a profile of another geography, and checks the series an operator's
// alerts and the dashboard rely on (docs/operations.md, "Metrics"): the
// refusal has a counter of its own, the served call is an attempt by
// destination, latency is split by status class, and the series known at
// start exist at 0 before their first event.
func TestOperatorSeries(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lc, err := pki.Provision(filepath.Join(dir, "link"), pki.DefaultTrustDomain, "eu-west-1", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	peer := listen(t)
	peerAddr := peer.Addr().String()
	peer.Close()
	src := fmt.Sprintf(`
account: "111122223333"
geographies: { eu: { name: European Union }, us: { name: United States } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53.3, lon: -6.3 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
  - { id: us-east-1, geography: us, location: { lat: 38.9, lon: -77.0 }, listen: "127.0.0.1:3", link: %q }
models: [{ id: demo.chat-small, name: Small, context_window: 8192 }]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: mock }, capacity: { max_concurrency: 4, rpm: 600, tpm: 100000 } }
  - { model: demo.chat-small, region: us-east-1, backend: { type: mock }, capacity: { max_concurrency: 4, rpm: 600, tpm: 100000 } }
principals:
  - { id: app, api_keys: [%q], limits: { rpm: 600 } }
link: { ca_file: %q, cert_file: %q, key_file: %q }
audit: { dir: %q }
server: { data_dir: %q }
`, peerAddr, auth.HashKey("app-key"), lc.CAFile, lc.CertFile, lc.KeyFile, filepath.Join(dir, "audit"), filepath.Join(dir, "data"))
	cfg, err := topology.Parse([]byte(src), "operator series test topology")
	if err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, node.Options{Config: cfg, Region: "eu-west-1", ClientListener: listen(t), LinkListener: listen(t)})
	for _, tc := range []struct {
		model string
		want  int
	}{{"eu.demo.chat-small", 200}, {"us.demo.chat-small", 400}} {
		req, err := http.NewRequestWithContext(t.Context(), "POST", "http://"+n.ClientAddr()+"/v1/chat/completions",
			strings.NewReader(`{"model":"`+tc.model+`","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer app-key")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Fatalf("%s: status %d, want %d", tc.model, resp.StatusCode, tc.want)
		}
	}
	fams, err := n.Gateway().Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				if l.GetName() != "region" {
					labels = append(labels, l.GetName()+"="+l.GetValue())
				}
			}
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				got[key] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				got[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	for _, tc := range []struct {
		series string
		want   float64
	}{
		{`meridian_profile_not_callable_total{profile=us.demo.chat-small}`, 1},
		{`meridian_attempts_total{destination_region=eu-west-1,outcome=ok}`, 1},
		{`meridian_request_duration_seconds{profile=eu.demo.chat-small,source_region=eu-west-1,status_class=2xx}_count`, 1},
		{`meridian_request_duration_seconds{profile=,source_region=eu-west-1,status_class=4xx}_count`, 1},
		{`meridian_residency_rejections_total{side=source}`, 0},
		{`meridian_residency_rejections_total{side=destination}`, 0},
		{`meridian_queue_rejections_total{reason=predicted_wait}`, 0},
		{`meridian_config_reloads_total{result=invalid}`, 0},
		{`meridian_config_reloads_total{result=restart_required}`, 0},
		// The quota counters known at start: the configured limits'
		// rejections (the principal's rpm, the deployments' capacity),
		// the store's operations, the admission results and drop reasons.
		{`meridian_quota_rejections_total{limit=rpm,scope=principal}`, 0},
		{`meridian_quota_rejections_total{limit=max_concurrency,scope=deployment}`, 0},
		{`meridian_quota_store_errors_total{op=reserve}`, 0},
		{`meridian_quota_admissions_total{result=rejected}`, 0},
		{`meridian_quota_dropped_settlements_total{reason=closed}`, 0},
	} {
		v, ok := got[tc.series]
		switch {
		case !ok:
			t.Errorf("%s absent", tc.series)
		case v != tc.want:
			t.Errorf("%s = %v, want %v", tc.series, v, tc.want)
		}
	}
	if t.Failed() {
		for k, v := range got {
			if strings.HasPrefix(k, "meridian_") {
				t.Logf("%s %v", k, v)
			}
		}
	}
}

// TestReloadNotAppliedGauge: meridian_config_last_reload_successful, which
// the chart's MeridianReloadNotApplied alert reads, is 1 from start, 0 from
// a reload that was not applied (restart required, invalid) for as long as
// the node keeps its old topology, whatever time passes, and 1 again once a
// reload applies the file or finds it back to what runs.
func TestReloadNotAppliedGauge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lc, err := pki.Provision(filepath.Join(dir, "link"), pki.DefaultTrustDomain, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	topo := func(account string, rpm int) *topology.Config {
		t.Helper()
		src := fmt.Sprintf(`
account: %q
geographies: { eu: { name: European Union } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53.3, lon: -6.3 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [{ id: demo.chat-small, name: Small, context_window: 8192 }]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: mock }, capacity: { max_concurrency: 4 } }
principals:
  - { id: app, api_keys: [%q], limits: { rpm: %d } }
link: { ca_file: %q, cert_file: %q, key_file: %q }
audit: { dir: %q }
server: { data_dir: %q }
`, account, auth.HashKey("app-key"), rpm, lc.CAFile, lc.CertFile, lc.KeyFile, filepath.Join(dir, "audit"), filepath.Join(dir, "data"))
		cfg, err := topology.Parse([]byte(src), "reload gauge test topology")
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	n := nodetest.Start(t, node.Options{Config: topo("111122223333", 600), Region: "eu-west-1", ClientListener: listen(t), LinkListener: listen(t)})
	gauge := func() float64 {
		t.Helper()
		fams, err := n.Gateway().Metrics().Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == "meridian_config_last_reload_successful" && len(f.GetMetric()) == 1 {
				return f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("meridian_config_last_reload_successful absent")
		return -1
	}
	invalid := topo("111122223333", 600)
	invalid.Principals[0].ID = ""
	for _, step := range []struct {
		name string
		cfg  *topology.Config
		want float64
	}{
		{"start", nil, 1},
		{"restart required (account changed)", topo("444455556666", 600), 0},
		{"the same file again: still not applied", topo("444455556666", 600), 0},
		{"the file back to what runs", topo("111122223333", 600), 1},
		{"invalid", invalid, 0},
		{"applied (a principal's limit)", topo("111122223333", 500), 1},
	} {
		if step.cfg != nil {
			t.Logf("%s: %v", step.name, n.Reload(step.cfg))
		}
		if got := gauge(); got != step.want {
			t.Errorf("%s: meridian_config_last_reload_successful = %v, want %v", step.name, got, step.want)
		}
	}
}
