package node

import (
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// TestDestinationAuditsResidencyRefusals: a forwarded request the
// destination refuses once its envelope is authenticated (its residency
// check, among others) leaves one destination-side audit event with the
// refusal's reason, and a residency refusal is counted in
// meridian_residency_rejections_total{side="destination"}
// (docs/audit.md, "Refusals at the destination"). An envelope that does not
// authenticate (another CA's signer, a tampered seal) and a replay leave
// none. The first case is an operator's: a source whose topology wrongly
// puts us-east-1 in geography eu forwards eu.demo.chat-small there when
// the EU deployments are down.
func TestDestinationAuditsResidencyRefusals(t *testing.T) {
	c := startCluster(t, []regionSpec{{"us-east-1", "us"}, {"eu-west-1", "eu"}}, "")
	dst := c.nodes["us-east-1"]
	addr := dst.LinkAddr()

	// The mis-configured source: eu-west-1's catalog has us-east-1 in eu.
	wrong := *c.cfg
	wrong.Regions = slices.Clone(c.cfg.Regions)
	for i := range wrong.Regions {
		if wrong.Regions[i].ID == "us-east-1" {
			wrong.Regions[i].Geography = "eu"
		}
	}
	cat, err := profile.New(&wrong)
	if err != nil {
		t.Fatal(err)
	}
	c.nodes["eu-west-1"].Gateway().SetCatalog(cat)
	c.mocks["eu-west-1"].SetDown(true)
	status, h, b := c.post("eu-west-1", chatBody("eu.demo.chat-small", false), c.key)
	rogueID := h.Get("X-Meridian-Request-Id")
	if status == 200 || rogueID == "" || h.Get("X-Meridian-Inference-Region") == "us-east-1" {
		t.Fatalf("eu.demo.chat-small from the mis-configured source: %d %v %s, want a refusal that ran nothing in us-east-1", status, h, b)
	}
	if got := c.mocks["us-east-1"].Stats().Requests; got != 0 {
		t.Fatalf("us-east-1's upstream saw %d requests, want 0", got)
	}

	// Genuine peers' forwards, refused for each reason a peer can cause.
	arn := func(region, id string) string {
		return "arn:aws:bedrock:" + region + ":111122223333:inference-profile/" + id
	}
	body := `{"model":"x","messages":[{"role":"user","content":[{"text":"hi"}]}],"maxTokens":4}`
	fromEU := c.peer(t, "eu-west-1", "us-east-1")
	// A signer certificate of another CA, for eu-west-1, on a genuine
	// connection: the envelope does not authenticate.
	other, err := pki.Provision(t.TempDir(), "", "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	otherStore, err := pki.NewStore(other.StoreOptions("eu-west-1"))
	if err != nil {
		t.Fatal(err)
	}
	otherSigner := &peerClient{t: t, region: "eu-west-1", store: otherStore, http: fromEU.http}
	env := func(id, dest, profileID string) envelope.Envelope {
		return envelope.Envelope{RequestID: id, SourceRegion: "eu-west-1", DestinationRegion: dest, PrincipalID: "tester", ProfileARN: arn("eu-west-1", profileID)}
	}
	tamper := func(r *http.Request) {
		sig, _ := base64.StdEncoding.DecodeString(r.Header.Get(envelope.HeaderSignature))
		if len(sig) > 8 {
			sig[8] ^= 1
		}
		r.Header.Set(envelope.HeaderSignature, base64.StdEncoding.EncodeToString(sig))
	}
	tests := []struct {
		name      string
		peer      *peerClient
		env       envelope.Envelope
		mutate    func(*http.Request)
		want      string // the link's reason
		audited   bool
		residency bool
	}{
		{"an eu. profile asked of a US destination", fromEU, env("req-excludes", "us-east-1", "eu.demo.chat-small"), nil, "profile_excludes_destination", true, true},
		{"a us. profile from an EU source", fromEU, env("req-geography", "us-east-1", "us.demo.chat-small"), nil, "geography_mismatch", true, true},
		{"a profile unknown here", fromEU, env("req-unknown", "us-east-1", "eu.no-such-model"), nil, "unknown_profile", true, true},
		{"another destination", fromEU, env("req-elsewhere", "eu-central-1", "global.demo.chat-small"), nil, "wrong_destination", true, true},
		{"an altered body", fromEU, env("req-body", "us-east-1", "global.demo.chat-small"),
			func(r *http.Request) { r.Body = http.NoBody; r.ContentLength = 0 }, "body_hash", true, false},
		{"a tampered signature", fromEU, env("req-tampered", "us-east-1", "eu.demo.chat-small"), tamper, "bad_signature", false, false},
		{"a signer of another CA", otherSigner, env("req-other-ca", "us-east-1", "eu.demo.chat-small"), nil, "bad_signature", false, false},
	}
	for _, tc := range tests {
		status, b := tc.peer.forward(addr, tc.env, body, tc.mutate)
		if status != 403 || !strings.Contains(b, tc.want) {
			t.Errorf("%s: status %d body %s, want 403 naming %s", tc.name, status, b, tc.want)
		}
	}
	// A replay: the first send is served (and audited), the second refused.
	if status, b := replay(t, fromEU, addr, env("", "us-east-1", "global.demo.chat-small"), body); status != 403 || !strings.Contains(b, "replay") {
		t.Errorf("replay: status %d body %s, want 403 replay", status, b)
	}

	wantResidency := 1.0 // the mis-configured source's forward
	for _, tc := range tests {
		if tc.residency {
			wantResidency++
		}
	}
	families := scrape(t, c.url("us-east-1"), c.key)
	var gotResidency float64
	if f, ok := families["meridian_residency_rejections_total"]; ok {
		for _, m := range findMetrics(f, map[string]string{"side": "destination", "region": "us-east-1"}) {
			gotResidency += m.GetCounter().GetValue()
		}
	}
	if gotResidency != wantResidency {
		t.Errorf(`us-east-1 meridian_residency_rejections_total{side="destination"} = %v, want %v`, gotResidency, wantResidency)
	}
	c.shutdown()

	events := map[string][]*audit.Event{}
	if err := audit.Query(c.auditDir, audit.Filter{}, func(e *audit.Event) error {
		if e.RecordingRegion == "us-east-1" {
			events[e.EventID] = append(events[e.EventID], e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	check := func(name, id, reason string, audited bool) {
		t.Helper()
		got := events[id]
		if !audited {
			if len(got) != 0 {
				t.Errorf("%s: %d events in us-east-1, want none: %+v", name, len(got), got[0])
			}
			return
		}
		if len(got) != 1 {
			t.Errorf("%s: %d events in us-east-1, want exactly 1", name, len(got))
			return
		}
		e := got[0]
		if e.Side != audit.SideDestination || e.SourceRegion != "eu-west-1" || e.InferenceRegion != "" || e.StatusCode != 403 ||
			e.Decision.Allowed || !strings.Contains(e.Decision.Reason, reason) {
			t.Errorf("%s: event side %s source %s inference %q status %d decision %+v, want a destination-side 403 from eu-west-1, not allowed, reason naming %s",
				name, e.Side, e.SourceRegion, e.InferenceRegion, e.StatusCode, e.Decision, reason)
		}
	}
	check("the mis-configured source's forward", rogueID, "profile_excludes_destination", true)
	for _, tc := range tests {
		check(tc.name, tc.env.RequestID, tc.want, tc.audited)
	}
	// The replayed request has the event of its first, served send only.
	if got := events["req-replayed"]; len(got) != 1 || got[0].StatusCode != 200 {
		t.Errorf("replayed request: %d events, want the served one only", len(got))
	}
}
