package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/clock"
)

// TestAuditQueryRelativeSince: `audit query --since 1h` counts back from
// now (the time the verb is given), and the table has the client's IP.
func TestAuditQueryRelativeSince(t *testing.T) {
	root := t.TempDir()
	t0 := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	w, err := audit.Open(audit.Config{Dir: root}, "eu-west-1", audit.Options{Clock: clock.NewManual(t0)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*audit.Event{
		{EventID: "req-old", EventName: "ChatCompletions", EventTime: audit.Time{Time: t0}, SourceRegion: "eu-west-1", SourceIPAddress: "192.0.2.1", StatusCode: 200},
		{EventID: "req-new", EventName: "ChatCompletions", EventTime: audit.Time{Time: t0.Add(90 * time.Minute)}, SourceRegion: "eu-west-1", SourceIPAddress: "198.51.100.7", StatusCode: 200},
	} {
		if err := w.Append(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(2 * time.Hour)
	for _, c := range []struct {
		since     string
		want, not []string
	}{
		{"1h", []string{"req-new", "198.51.100.7", "CLIENT IP"}, []string{"req-old"}},
		{"3h", []string{"req-new", "req-old", "192.0.2.1"}, nil},
		{"2026-12-07T21:00:00Z", []string{"req-new"}, []string{"req-old"}},
	} {
		var out, errb bytes.Buffer
		if err := runAuditQuery([]string{root, "--since", c.since}, now, &out, &errb); err != nil {
			t.Fatalf("--since %s: %v\n%s", c.since, err, errb.String())
		}
		for _, s := range c.want {
			if !strings.Contains(out.String(), s) {
				t.Errorf("--since %s: no %q in\n%s", c.since, s, out.String())
			}
		}
		for _, s := range c.not {
			if strings.Contains(out.String(), s) {
				t.Errorf("--since %s: %q listed\n%s", c.since, s, out.String())
			}
		}
	}
	var out, errb bytes.Buffer
	if err := runAuditQuery([]string{root, "--since", "an hour"}, now, &out, &errb); err == nil || !strings.Contains(err.Error(), "1h") {
		t.Errorf("--since 'an hour' = %v, want a usage error naming the duration form", err)
	}
}
