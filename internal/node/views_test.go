package node

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// TestRegionsViewReadsAsItIs: GET /meridian/v1/regions (the ops
// listener's and the console's state) leaves out the remaining RPM/TPM of
// a limit that is not configured (unlimited, not "0 left"), shows an open
// circuit whose cooldown has passed as half-open (its probe may go; the
// tracker only moves it on the next request), and names every key in
// snake_case while it keeps the earlier camelCase ones.
func TestRegionsViewReadsAsItIs(t *testing.T) {
	cfg, err := topology.Parse([]byte(`account: "111122223333"
link: { insecure_dev_link: true }
audit: { disabled: true }
geographies: { eu: { name: EU } }
regions:
  - { id: eu-west-1, geography: eu, location: { lat: 53, lon: -6 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" }
models: [ { id: demo.chat-small }, { id: demo.chat-large } ]
deployments:
  - { model: demo.chat-small, region: eu-west-1, backend: { type: mock }, capacity: { rpm: 100 } }
  - { model: demo.chat-large, region: eu-west-1, backend: { type: mock }, capacity: { tpm: 5000 } }
`), "views.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	clk := clock.NewManual(t0)
	n, err := New(Options{Config: cfg, Region: "eu-west-1", Dev: true, DataDir: t.TempDir(), Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.closeOpened)
	n.clientLn = fakeAddrListener{} // the view names the client address; nothing listens
	tr := n.current().gw.Routing().Tracker
	k := routing.Key{Region: "eu-west-1", Model: "demo.chat-small"}
	a, err := tr.Start(k, 10)
	if err != nil {
		t.Fatal(err)
	}
	// A 429 with Retry-After 10s: circuit open, cooldown 10 s.
	tr.Observe(a, routing.Outcome{Kind: routing.Throttled, RetryAfter: 10 * time.Second})

	view := func() map[string]any {
		rec := httptest.NewRecorder()
		n.regions(rec, httptest.NewRequest("GET", "/meridian/v1/regions", nil))
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("%v: %s", err, rec.Body)
		}
		return v
	}
	deployment := func(v map[string]any, model string) map[string]any {
		for _, d := range v["regions"].([]any)[0].(map[string]any)["deployments"].([]any) {
			if d := d.(map[string]any); d["model"] == model {
				return d
			}
		}
		t.Fatalf("no deployment %s in %v", model, v)
		return nil
	}

	for _, c := range []struct {
		name  string
		after time.Duration
		model string
		want  map[string]any // key → value (fmt %v), "<absent>" for no key
	}{
		{"rpm only: no tpm_remaining", 0, "demo.chat-small", map[string]any{"rpm_remaining": "100", "rpm_limit": "100", "tpm_remaining": "<absent>", "tpm_limit": "<absent>"}},
		{"tpm only: no rpm_remaining", 0, "demo.chat-large", map[string]any{"tpm_remaining": "5000", "tpm_limit": "5000", "rpm_remaining": "<absent>", "rpm_limit": "<absent>"}},
		{"in cooldown: open", 5 * time.Second, "demo.chat-small", map[string]any{"circuit": "open", "cooldown_remaining_ms": "5000"}},
		{"cooldown over: half-open", 6 * time.Second, "demo.chat-small", map[string]any{"circuit": "half-open", "cooldown_remaining_ms": "<absent>"}},
		{"never failed: closed", 0, "demo.chat-large", map[string]any{"circuit": "closed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk.Advance(c.after)
			d := deployment(view(), c.model)
			for key, want := range c.want {
				got, ok := d[key]
				gs := "<absent>"
				if ok {
					gs = fmt.Sprint(got)
				}
				if gs != want {
					t.Errorf("%s = %s, want %s (%v)", key, gs, want, d)
				}
			}
		})
	}

	r := view()["regions"].([]any)[0].(map[string]any)
	for _, key := range []string{"last_seen", "topology_mismatch", "rtt_ms", "lastSeen", "topologyMismatch"} {
		if _, ok := r[key]; !ok {
			t.Errorf("region has no %q: %v", key, r)
		}
	}
	if r["last_seen"] != r["lastSeen"] || r["topology_mismatch"] != r["topologyMismatch"] {
		t.Errorf("the camelCase keys differ from the snake_case ones: %v", r)
	}
}

// fakeAddrListener is a listener that only has an address.
type fakeAddrListener struct{ net.Listener }

func (fakeAddrListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
