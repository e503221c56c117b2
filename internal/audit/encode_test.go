package audit

import (
	"encoding/json"
	"testing"
	"time"
)

func checkEncoding(t *testing.T, e *Event) {
	t.Helper()
	want, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendEvent(nil, e); string(got) != string(want) {
		t.Errorf("appendEvent(%+v)\n got %s\nwant %s", e, got, want)
	}
}

func TestAppendEventMatchesJSON(t *testing.T) {
	t.Parallel()
	tricky := "quote\" backslash\\ <script>&amp; \b\f\n\r\t \x00\x1f\x7f é 日本 \u2028\u2029 \xff\xfe invalid \xe2\x82"
	for i := range 6 {
		checkEncoding(t, testEvent(i))
	}
	e := testEvent(1)
	e.EventID, e.UserAgent, e.Decision.Reason, e.UserIdentity.AccessKeyID = tricky, tricky, tricky, tricky
	e.Content = &Content{Prompt: tricky, Completion: ""}
	e.Attempts = append(e.Attempts, Attempt{Region: tricky, Outcome: "throttled", DurationMs: -1})
	e.EventTime = Time{time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))}
	e.Usage = Usage{InputTokens: 1 << 62, OutputTokens: -5}
	checkEncoding(t, e)
	e.RequestParameters = &RequestParameters{ModelID: tricky}
	e.Decision.DecidingStatement = &Statement{Policy: tricky, Sid: tricky, Index: 3, Guardrail: true}
	checkEncoding(t, e)
	e.Decision.DecidingStatement = &Statement{Policy: "p"}
	checkEncoding(t, e)
	e.RequestMetadata = map[string]string{"team": "claims", tricky: tricky, "a": ""}
	checkEncoding(t, e)
	e.RequestMetadata = map[string]string{}
	checkEncoding(t, e)
	e.ServiceTier = "priority"
	checkEncoding(t, e)
	e.TraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	checkEncoding(t, e)
	checkEncoding(t, &Event{})
	checkEncoding(t, &Event{Attempts: []Attempt{}})
	f := func(v float64) *float64 { return &v }
	for _, o := range []*Overhead{{}, {Source: f(0)}, {Total: f(0.41), Source: f(0.21), Link: f(0.12), Destination: f(0.08), Upstream: f(812.4)},
		{Total: f(0.001), Destination: f(0.001), Upstream: f(123456789.123)}, {Source: f(1e-7)}, {Upstream: f(1e22)}} {
		e.OverheadMs = o
		checkEncoding(t, e)
	}
}

// FuzzAppendEvent holds the hand-written encoder to encoding/json's output.
func FuzzAppendEvent(f *testing.F) {
	f.Add("req-1", "curl/8.5.0", "explicit deny", "hello", int64(12), 200, true)
	f.Add("\u2028<>&\"\\", "\xff", "", "\x00", int64(-1), 0, false)
	f.Fuzz(func(t *testing.T, id, agent, reason, prompt string, tokens int64, status int, allowed bool) {
		e := testEvent(int(tokens & 7))
		e.EventID, e.UserAgent, e.Decision = id, agent, Decision{Allowed: allowed, Reason: reason}
		e.Usage.InputTokens, e.StatusCode = tokens, status
		e.Attempts = []Attempt{{Region: reason, Outcome: id, Status: status}}
		if status&1 == 1 {
			e.RequestParameters = &RequestParameters{ModelID: prompt}
			e.Decision.DecidingStatement = &Statement{Policy: reason, Sid: agent, Index: status, Guardrail: allowed}
		}
		if prompt != "" {
			e.Content = &Content{Prompt: prompt, Completion: agent}
		}
		if status&2 == 2 {
			e.RequestMetadata = map[string]string{id: agent, reason: prompt}
		}
		checkEncoding(t, e)
	})
}

// TestAppendTimeMatchesFormat holds appendTime to AppendFormat with
// timeLayout, at the edges of its digits and of its fallback.
func TestAppendTimeMatchesFormat(t *testing.T) {
	t.Parallel()
	cet := time.FixedZone("CET", 3600)
	for _, tm := range []time.Time{
		{},
		time.Date(2026, 11, 25, 9, 38, 23, 123456789, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2027, 1, 1, 0, 30, 0, 999999, cet), // a year earlier in UTC
		time.Date(1, 1, 1, 0, 0, 0, 0, cet),          // year 0 in UTC
		time.Date(0, 1, 1, 0, 0, 0, 1e6, time.UTC),
		time.Date(-1, 6, 1, 12, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 2, 29, 7, 8, 9, 10_000_000, time.UTC),
		time.Unix(0, 0),
	} {
		want := tm.UTC().AppendFormat([]byte("x"), timeLayout)
		if got := appendTime([]byte("x"), tm); string(got) != string(want) {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

// FuzzAppendTime holds appendTime to AppendFormat for any instant.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(1795000000), int64(123456789), 0)
	f.Add(int64(-62135596800), int64(0), 3600)
	f.Add(int64(253402300799), int64(999999999), -7200)
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		tm := time.Unix(sec, nsec).In(time.FixedZone("z", offset%(24*3600)))
		want := tm.UTC().AppendFormat(nil, timeLayout)
		if got := appendTime(nil, tm); string(got) != string(want) {
			t.Errorf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	})
}
