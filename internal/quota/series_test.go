package quota

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// rejectionSeries returns the scope/limit pairs of
// meridian_quota_rejections_total in reg, with their values.
func rejectionSeries(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "meridian_quota_rejections_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var l []string
			for _, lp := range m.GetLabel() {
				l = append(l, lp.GetName()+"="+lp.GetValue())
			}
			out[strings.Join(l, ",")] = m.GetCounter().GetValue()
		}
	}
	return out
}

// TestSeriesFromStart: the quota counters whose labels are known before any
// request exist at 0 from the limiter's start (an increase() > 0 alert sees
// their first event): every admission result, store operation and drop
// reason, and the rejection series of the configured limits, only those.
func TestSeriesFromStart(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	l, err := New(Config{}, NewMemory(nil), Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		name   string
		labels []string
	}{
		{"meridian_quota_admissions_total", []string{"result=admitted", "result=rejected", "result=store_error_admitted", "result=store_error_rejected", "result=invalid", "result=store_refused"}},
		{"meridian_quota_store_errors_total", []string{"op=ping", "op=reserve", "op=commit", "op=release", "op=retry", "op=release_leases", "op=cooldown", "op=state", "op=records"}},
		{"meridian_quota_dropped_settlements_total", []string{"reason=overflow", "reason=refused", "reason=attempts", "reason=closed"}},
	} {
		for _, lbl := range tc.labels {
			if v := metricValue(t, reg, tc.name, lbl); v != 0 {
				t.Errorf("%s{%s} = %v at start, want 0", tc.name, lbl, v)
			}
		}
	}
	if got := rejectionSeries(t, reg); len(got) != 0 {
		t.Errorf("rejection series before any limit is known: %v", got)
	}

	limits := []Limits{
		{RPM: 60, PerModel: map[string]ScopedLimits{"m": {TokensPerDay: 1000, Pools: &Pools{Global: &PoolLimits{RPM: 5}}}}},
		{TPM: 1000, PerProfile: map[string]ScopedLimits{"eu.m": {MaxConcurrency: 2}}},
	}
	capacity := []Capacity{{MaxConcurrency: 4, Pools: &Pools{InRegion: &PoolLimits{TPM: 500}}}}
	l.ExpectLimits(limits, capacity)
	want := []string{"limit=rpm,scope=principal", "limit=tpm,scope=principal", "limit=tokens_per_day,scope=model",
		"limit=rpm,scope=model_pool", "limit=max_concurrency,scope=profile", "limit=max_concurrency,scope=deployment", "limit=tpm,scope=deployment"}
	got := rejectionSeries(t, reg)
	for _, w := range want {
		if v, ok := got[w]; !ok || v != 0 {
			t.Errorf("rejections{%s} = %v (present: %v), want 0", w, v, ok)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rejection series %v, want only %v", got, want)
	}

	// The first rejection counts on the series that was at 0.
	ctx := context.Background()
	req := Request{Principal: "p", Limits: Limits{RPM: 1}, MaxTokens: 1}
	res, err := l.Admit(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release(ctx)
	if _, err := l.Admit(ctx, req); !errors.Is(err, ErrLimited) {
		t.Fatalf("second request: %v, want a rejection", err)
	}
	if v := rejectionSeries(t, reg)["limit=rpm,scope=principal"]; v != 1 {
		t.Errorf("rejections{principal,rpm} = %v after one rejection, want 1", v)
	}
}

// TestExpectLimitsBedrockDaily: with daily_default: bedrock, a caller's tpm
// implies a tokens_per_day limit, and its series exists too; a
// deployment's does not.
func TestExpectLimitsBedrockDaily(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	l, err := New(Config{DailyDefault: DailyDefaultBedrock}, NewMemory(nil), Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.ExpectLimits([]Limits{{TPM: 100}}, []Capacity{{TPM: 100}})
	got := rejectionSeries(t, reg)
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"limit=tokens_per_day,scope=principal", "limit=tpm,scope=deployment", "limit=tpm,scope=principal"}
	if !slices.Equal(keys, want) {
		t.Errorf("rejection series %v, want %v", keys, want)
	}
}
