package audit

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestQuery(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	w := openTest(t, root, newFakeClock(), nil)
	appendN(t, w, 0, 15)
	// A request from eu-west-1 served in us-east-1, and a destination-side
	// event written for a forwarded request.
	odd := testEvent(100)
	odd.InferenceRegion, odd.StatusCode = "us-east-1", 200
	if err := w.Append(t.Context(), odd); err != nil {
		t.Fatal(err)
	}
	dst := testEvent(101)
	dst.Side = SideDestination
	if err := w.Append(t.Context(), dst); err != nil {
		t.Fatal(err)
	}
	// A cross-geography attempt refused before anything resolved: found by
	// the profile it asked for.
	refused := testEvent(102)
	refused.InferenceRegion, refused.InferenceProfileARN, refused.ModelID, refused.StatusCode = "", "", "", 400
	refused.RequestParameters = &RequestParameters{ModelID: "arn:aws:bedrock:eu-west-1:000000000000:inference-profile/us.demo.chat-small"}
	refused.Decision = Decision{Allowed: false, Reason: "residency"}
	if err := w.Append(t.Context(), refused); err != nil {
		t.Fatal(err)
	}
	// Converse requestMetadata, for SIEM rules that filter on it.
	tagged := testEvent(103)
	tagged.RequestMetadata = map[string]string{"team": "claims", "ticket": "CLM-42"}
	if err := w.Append(t.Context(), tagged); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	nov := func(day, sec int) time.Time { return time.Date(2026, 11, day, 9, 0, sec, 0, time.UTC) }
	tests := []struct {
		name   string
		filter Filter
		want   []int // testEvent numbers
	}{
		{"served outside the EU", Filter{SourceRegion: "eu-west-1", InferenceRegion: "!eu-*"}, []int{100}},
		{"nothing ran", Filter{InferenceRegion: "none"}, []int{4, 9, 14, 102}},
		{"denied", Filter{Status: "4xx"}, []int{4, 9, 14, 102}},
		{"status list with exclusion", Filter{Status: "200,!403"}, []int{0, 1, 2, 3, 5, 6, 7, 8, 10, 11, 12, 13, 100, 101, 103}},
		{"time range", Filter{Since: nov(25, 3), Until: nov(25, 6)}, []int{3, 4, 5}},
		{"principal by key id", Filter{Principal: "key-1", Until: nov(25, 8)}, []int{1, 3, 5, 7}},
		{"refusal by the profile it asked for", Filter{Profile: "us.demo.*"}, []int{102}},
		{"profile by id", Filter{Profile: "eu.demo.*", Since: nov(25, 14), Until: nov(25, 16)}, []int{14}},
		{"profile by ARN", Filter{Profile: "arn:aws:bedrock:eu-west-1:000000000000:inference-profile/eu.demo.chat-small", Until: nov(25, 1)}, []int{0}},
		{"destination side", Filter{Side: SideDestination}, []int{101}},
		{"event id", Filter{EventID: "req-00010*"}, []int{100, 101, 102, 103}},
		{"request metadata", Filter{Metadata: map[string]string{"team": "claims"}}, []int{103}},
		{"request metadata, every key", Filter{Metadata: map[string]string{"team": "claims", "ticket": "CLM-*"}}, []int{103}},
		{"request metadata, no match", Filter{Metadata: map[string]string{"team": "fraud"}}, nil},
		{"inference region list", Filter{InferenceRegion: "us-east-1,eu-west-1", Until: nov(25, 7)}, []int{0, 3, 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			err := Query(root, tc.filter, func(e *Event) error { got = append(got, e.EventID); return nil })
			if err != nil {
				t.Fatalf("Query(%+v) = %v", tc.filter, err)
			}
			var want []string
			for _, i := range tc.want {
				want = append(want, testEvent(i).EventID)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Query(%+v) (-want +got):\n%s", tc.filter, diff)
			}
		})
	}
}

func TestFilterValidate(t *testing.T) {
	t.Parallel()
	err := Filter{SourceRegion: "eu-[", Status: "abc", Side: "middle"}.Validate()
	for _, want := range []string{"--source-region", "--status", "--side"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Time{
		"2026-11":                   time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-25":                time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC),
		"2026-11-25T10:00":          time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		"2026-11-25T11:00:00+01:00": time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
	} {
		if got, err := ParseTime(in); err != nil || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v, want %v", in, got, err, want)
		}
	}
	if _, err := ParseTime("November"); err == nil {
		t.Errorf("ParseTime(%q) = nil error", "November")
	}
}

// TestParseTimeAt: --since/--until take a duration before now ("the last
// hour" of an incident) as well as the absolute forms; anything else is
// refused with a message that names both.
func TestParseTimeAt(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 22, 30, 0, 0, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		in   string
		want time.Time // zero: refused
	}{
		{"1h", time.Date(2026, 12, 7, 20, 30, 0, 0, time.UTC)},
		{"90m", time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)},
		{"1h30m", time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)},
		{"45s", time.Date(2026, 12, 7, 21, 29, 15, 0, time.UTC)},
		{"2d", time.Date(2026, 12, 5, 21, 30, 0, 0, time.UTC)},
		{"2026-11-25", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)},
		{"2026-11-25T11:00:00+01:00", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)},
		{"0s", time.Time{}},
		{"-1h", time.Time{}},
		{"d", time.Time{}},
		{"1.5d", time.Time{}},
		{"99999d", time.Time{}},
		{"an hour", time.Time{}},
		{"", time.Time{}},
	} {
		got, err := ParseTimeAt(c.in, now)
		switch {
		case c.want.IsZero() && err == nil:
			t.Errorf("ParseTimeAt(%q) = %v, want an error", c.in, got)
		case c.want.IsZero() && !strings.Contains(err.Error(), "1h"):
			t.Errorf("ParseTimeAt(%q) error %q does not say that durations are accepted", c.in, err)
		case !c.want.IsZero() && (err != nil || !got.Equal(c.want) || got.Location() != time.UTC):
			t.Errorf("ParseTimeAt(%q) = %v, %v, want %v", c.in, got, err, c.want)
		}
	}
}

func TestPrinter(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p, err := NewPrinter(&buf, "table")
	if err != nil {
		t.Fatal(err)
	}
	p.Print(testEvent(0))
	p.Print(testEvent(4))
	if n, err := p.Flush(); n != 2 || err != nil {
		t.Fatalf("Flush() = %d, %v", n, err)
	}
	out := buf.String()
	for _, want := range []string{"EVENT ID", "CLIENT IP", "192.0.2.10", "req-000000", "eu.demo.chat-small", "denied: explicit deny in policy eu-only"} {
		if !strings.Contains(out, want) {
			t.Errorf("table output lacks %q:\n%s", want, out)
		}
	}
	if _, err := NewPrinter(&buf, "xml"); err == nil {
		t.Error(`NewPrinter("xml") = nil error`)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	priv, pub, err := GenerateKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(priv)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	if _, _, err := GenerateKey(dir); err == nil {
		t.Error("GenerateKey over an existing key = nil error, want refusal")
	}
	k, err := ReadPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := ReadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Equal(k.Public()) {
		t.Error("public key file does not match the private key")
	}
	raw := base64.StdEncoding.EncodeToString(p)
	if p2, err := ParsePublicKey([]byte(raw + "\n")); err != nil || !p2.Equal(p) {
		t.Errorf("ParsePublicKey(base64) = %v, %v", p2, err)
	}
	// A writer with that key configured uses it; one with no key creates the default.
	root := t.TempDir()
	w := openTest(t, root, newFakeClock(), func(c *Config) { c.KeyFile = priv })
	if !w.PublicKey().Equal(p) {
		t.Error("writer does not use the configured key")
	}
	w.Close()
	if _, err := os.Stat(filepath.Join(root, DefaultKeyName)); err == nil {
		t.Error("writer with key_file created a default key too")
	}
	if _, err := Open(Config{Dir: t.TempDir(), KeyFile: filepath.Join(dir, "missing")}, testRegion, Options{}); err == nil {
		t.Error("Open with a missing key_file = nil error")
	}
	var _ ed25519.PublicKey = p
}
