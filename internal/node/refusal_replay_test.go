package node

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

// TestResentRefusedEnvelopeAuditedOnce: one sealed envelope the
// destination refuses, sent five times by a genuine peer, leaves one
// destination-side audit event and counts one residency refusal: the
// first send is judged and recorded, the four others are replays
// (docs/audit.md, "Refusals at the destination"). Before the verifier
// recorded the nonce of a refused envelope, each send wrote an event
// under the same event id. A stale envelope is never audited: it lies
// outside the replay window and could be re-sent without end.
func TestResentRefusedEnvelopeAuditedOnce(t *testing.T) {
	c := startCluster(t, []regionSpec{{"us-east-1", "us"}, {"eu-west-1", "eu"}}, "")
	addr := c.nodes["us-east-1"].LinkAddr()
	fromEU := c.peer(t, "eu-west-1", "us-east-1")
	arn := func(id string) string { return "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/" + id }
	body := `{"model":"x","messages":[{"role":"user","content":[{"text":"hi"}]}],"maxTokens":4}`
	tests := []struct {
		name      string
		id        string
		dest      string
		profile   string
		issued    time.Duration // before now
		sent      string        // the body sent, if not body
		want      string
		audited   bool
		residency bool
	}{
		{"an eu. profile asked of a US destination", "req-excludes", "us-east-1", "eu.demo.chat-small", 0, "", "profile_excludes_destination", true, true},
		{"another destination", "req-elsewhere", "eu-central-1", "global.demo.chat-small", 0, "", "wrong_destination", true, true},
		{"an altered body", "req-body", "us-east-1", "global.demo.chat-small", 0, `{"messages":[]}`, "body_hash", true, false},
		{"a stale envelope", "req-stale", "us-east-1", "eu.demo.chat-small", time.Hour, "", "stale", false, false},
	}
	for _, tc := range tests {
		env := envelope.Envelope{RequestID: tc.id, SourceRegion: "eu-west-1", DestinationRegion: tc.dest, PrincipalID: "tester",
			ProfileARN: arn(tc.profile), IssuedAt: time.Now().Add(-tc.issued), BodySHA256: envelope.HashBody([]byte(body))}
		sealed, err := envelope.Sign(env, fromEU.store.Certificate())
		if err != nil {
			t.Fatal(err)
		}
		sent := body
		if tc.sent != "" {
			sent = tc.sent
		}
		for i := range 5 {
			req, _ := http.NewRequest("POST", "https://"+addr+"/link/v1/invoke", strings.NewReader(sent))
			sealed.SetHeaders(req.Header)
			req.Header.Set("Meridian-Principal", env.PrincipalID)
			resp, err := fromEU.http.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := tc.want
			if i > 0 && tc.audited {
				want = "replay"
			}
			if resp.StatusCode != 403 || !strings.Contains(string(b), want) {
				t.Errorf("%s, send %d: %d %s, want 403 naming %s", tc.name, i+1, resp.StatusCode, b, want)
			}
		}
	}

	var wantResidency float64
	for _, tc := range tests {
		if tc.residency {
			wantResidency++
		}
	}
	var gotResidency float64
	if f, ok := scrape(t, c.url("us-east-1"), c.key)["meridian_residency_rejections_total"]; ok {
		for _, m := range findMetrics(f, map[string]string{"side": "destination", "region": "us-east-1"}) {
			gotResidency += m.GetCounter().GetValue()
		}
	}
	if gotResidency != wantResidency {
		t.Errorf(`meridian_residency_rejections_total{side="destination"} = %v after 5 sends of each envelope, want %v (one per envelope)`, gotResidency, wantResidency)
	}
	c.shutdown()

	events := map[string]int{}
	if err := audit.Query(c.auditDir, audit.Filter{}, func(e *audit.Event) error {
		if e.RecordingRegion == "us-east-1" {
			events[e.EventID]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		want := 0
		if tc.audited {
			want = 1
		}
		if events[tc.id] != want {
			t.Errorf("%s: %d destination events after 5 sends, want %d", tc.name, events[tc.id], want)
		}
	}
}
