package routing_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meridian-gateway/meridian/internal/routing"
	"go.yaml.in/yaml/v3"
)

const configYAML = `
strategy: locality-first
max_attempts: 4
failover_deadline: 5s
staleness: 2s
queue: { max: 10, timeout: 1500ms }
profiles:
  claims-eu:
    strategy: weighted
    max_attempts: 2
    weights: { eu-west-1: 3, eu-central-1: 1 }
    queue: { max_wait: 250ms }
  global.demo.chat-small:
    failover_deadline: 20s
`

func TestConfigYAML(t *testing.T) {
	t.Parallel()
	var c routing.Config
	if err := yaml.Unmarshal([]byte(configYAML), &c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	got := c.Options("claims-eu")
	want := routing.Options{Strategy: routing.Weighted, MaxAttempts: 2, FailoverDeadline: 5 * time.Second, Staleness: 2 * time.Second,
		Weights: map[string]float64{"eu-west-1": 3, "eu-central-1": 1}, LocalReserve: routing.DefaultLocalReserve,
		QueueMaxWait: 250 * time.Millisecond}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Options(claims-eu) (-want +got):\n%s", diff)
	}
	got = c.Options("global.demo.chat-small")
	if got.Strategy != routing.LocalityFirst || got.MaxAttempts != 4 || got.FailoverDeadline != 20*time.Second || got.QueueMaxWait != routing.DefaultQueueMaxWait {
		t.Errorf("Options(global) = %+v, want locality-first, 4, 20s, the default queue max_wait", got)
	}
	if m, to := c.QueueLimits(); m != 10 || to != 1500*time.Millisecond {
		t.Errorf("QueueLimits = %d, %v, want 10, 1.5s", m, to)
	}
	// The zero config means every default.
	var zero routing.Config
	got = zero.Options("any")
	if got.Strategy != routing.LocalityFirst || got.MaxAttempts != 3 || got.FailoverDeadline != 10*time.Second || got.Staleness != 3*time.Second {
		t.Errorf("zero Config Options = %+v, want the defaults", got)
	}
	d := routing.Default()
	if diff := cmp.Diff(zero.Options("x"), d.Options("x")); diff != "" {
		t.Errorf("Default() differs from the zero value's options:\n%s", diff)
	}
	// And it round-trips through JSON.
	b, _ := json.Marshal(c)
	var back routing.Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("JSON round trip: %v (%s)", err, b)
	}
	if diff := cmp.Diff(c, back); diff != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", diff)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string // substrings of the joined error
	}{
		{"unknown strategy", "strategy: fastest", []string{`unknown strategy "fastest"`}},
		{"bad duration", "staleness: soon", []string{`parse duration "soon"`}},
		{"negatives", "max_attempts: -1\nfailover_deadline: -1s\nprofiles: {p: {max_attempts: -2}}",
			[]string{"routing.max_attempts: -1 is negative", "routing.failover_deadline", "routing.profiles.p.max_attempts"}},
		{"all weights zero", "profiles: {p: {strategy: weighted, weights: {a: 0}}}", []string{"routing.profiles.p.weights: every weight is 0"}},
		{"negative weight", "profiles: {p: {weights: {a: -1, b: 1}}}", []string{"routing.profiles.p.weights.a"}},
		{"queue max_wait", "queue: {timeout: 1s, max_wait: 2s}\nprofiles: {p: {queue: {max_wait: -1s}}, q: {queue: {max_wait: 3s}}}",
			[]string{"routing.queue.max_wait: 2s is longer than queue.timeout (1s)", "routing.profiles.p.queue.max_wait: -1s is negative",
				"routing.profiles.q.queue.max_wait: 3s is longer than routing.queue.timeout"}},
		{"weights without weighted", "profiles: {p: {strategy: latency, weights: {a: 1}}}", []string{"only used by the weighted strategy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c routing.Config
			err := yaml.Unmarshal([]byte(tc.yaml), &c)
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatalf("config %q: no error, want %q", tc.yaml, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("config %q: error %q, want it to contain %q", tc.yaml, err, w)
				}
			}
		})
	}
	c := routing.Config{Profiles: map[string]routing.ProfileConfig{"nope": {Weights: map[string]float64{"mars-1": 1}}}}
	err := c.ValidateRefs(func(string) bool { return false }, func(string) bool { return false })
	if err == nil || !strings.Contains(err.Error(), "routing.profiles.nope: no inference profile") || !strings.Contains(err.Error(), "weights.mars-1: not a defined region") {
		t.Errorf("ValidateRefs = %v, want both problems", err)
	}
}

func TestEstimateRTT(t *testing.T) {
	t.Parallel()
	dublin := routing.Location{Lat: 53.3, Lon: -6.3}
	frankfurt := routing.Location{Lat: 50.1, Lon: 8.7}
	virginia := routing.Location{Lat: 38.9, Lon: -77.4}
	tests := []struct {
		name   string
		a, b   routing.Location
		lo, hi time.Duration
	}{
		{"same place", dublin, dublin, time.Millisecond, time.Millisecond},
		{"dublin-frankfurt", dublin, frankfurt, 12 * time.Millisecond, 25 * time.Millisecond},
		{"virginia-dublin", virginia, dublin, 60 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		if got := routing.EstimateRTT(tc.a, tc.b); got < tc.lo || got > tc.hi {
			t.Errorf("EstimateRTT(%s) = %v, want in [%v, %v]", tc.name, got, tc.lo, tc.hi)
		}
	}
	m := routing.NewRTTMatrix(map[string]routing.Location{"eu-west-1": dublin, "us-east-1": virginia})
	est := m.RTT("eu-west-1", "us-east-1")
	m.Observe("eu-west-1", "us-east-1", 70*time.Millisecond)
	if got := m.RTT("us-east-1", "eu-west-1"); got != 70*time.Millisecond {
		t.Errorf("RTT after first measurement = %v (estimate %v), want 70ms", got, est)
	}
	m.Observe("eu-west-1", "us-east-1", 80*time.Millisecond)
	if got := m.RTT("eu-west-1", "us-east-1"); got != 72*time.Millisecond {
		t.Errorf("RTT EWMA = %v, want 72ms", got)
	}
	if got := m.RTT("eu-west-1", "mars-1"); got != routing.UnknownRTT {
		t.Errorf("RTT to unknown region = %v, want UnknownRTT", got)
	}
	if got := m.RTT("eu-west-1", "eu-west-1"); got != 0 {
		t.Errorf("RTT within a region = %v, want 0", got)
	}
}

func FuzzParseStrategy(f *testing.F) {
	for _, s := range []string{"", "locality-first", "least-loaded", "latency", "weighted", "LATENCY", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		st, err := routing.ParseStrategy(s)
		if err != nil {
			return
		}
		if st.String() != s {
			t.Errorf("ParseStrategy(%q).String() = %q", s, st.String())
		}
	})
}

func FuzzSnapshotApply(f *testing.F) {
	f.Add(`{"region":"eu-central-1","sent_at":"2026-01-01T12:00:00Z","deployments":[{"region":"eu-central-1","model":"m","in_flight":3,"rpm_remaining":5,"tpm_remaining":-4,"ttft_ns":1000,"error_rate":2,"circuit":"open","cooldown_until":"2026-01-01T12:00:05Z","observed_at":"2026-01-01T11:00:00Z"}]}`)
	f.Add(`{"region":"eu-west-1","deployments":[{"region":"eu-west-1","model":"m"}]}`)
	f.Fuzz(func(t *testing.T, data string) {
		var s routing.Snapshot
		if json.Unmarshal([]byte(data), &s) != nil {
			return
		}
		tr, _ := routing.NewTracker(routing.TrackerConfig{Region: "eu-west-1", Deployments: []routing.Deployment{{Key: kLocal}, {Key: kRemote, MaxConcurrency: 4}}}, fixedClock{t0})
		_ = tr.Apply(s)
		dests := []string{"eu-west-1", "eu-central-1", "us-east-1"}
		in := routing.Input{SourceRegion: "eu-west-1", Destinations: dests[:2], States: tr.States(nil, "m", dests), Authorized: all, Now: t0}
		var p routing.Plan
		_ = routing.Route(&p, &in)
		for _, c := range p.Candidates() {
			if c.Region == "us-east-1" {
				t.Fatalf("a snapshot put %q, outside the destination set, in the plan", c.Region)
			}
			if c.Score < 0 || c.Score > 1 || c.Headroom < 0 || c.Headroom > 1 {
				t.Fatalf("candidate %+v: score or headroom outside [0,1]", c)
			}
		}
	})
}
