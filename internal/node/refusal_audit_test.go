package node

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
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
	// The peer re-signs, with its own key, an envelope claiming another
	// source region: it authenticates as eu-west-1's and is refused for
	// region_mismatch, and the event names the region the certificate
	// proves, not the one claimed.
	claimOther := func(r *http.Request) {
		payload, err := base64.RawURLEncoding.DecodeString(r.Header.Get(envelope.HeaderEnvelope))
		if err != nil {
			t.Fatal(err)
		}
		edited := bytes.Replace(payload, []byte(`"source_region":"eu-west-1"`), []byte(`"source_region":"eu-central-1"`), 1)
		if bytes.Equal(edited, payload) {
			t.Fatalf("no source_region eu-west-1 in %s", payload)
		}
		h := sha256.New()
		h.Write([]byte("meridian link envelope v1\x00"))
		h.Write(edited)
		cert := fromEU.store.Certificate()
		sig, err := cert.PrivateKey.(crypto.Signer).Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		envelope.Sealed{Envelope: base64.RawURLEncoding.EncodeToString(edited), Signature: base64.RawURLEncoding.EncodeToString(sig),
			Certificate: base64.RawURLEncoding.EncodeToString(cert.Certificate[0])}.SetHeaders(r.Header)
	}
	tests := []struct {
		name      string
		peer      *peerClient
		env       envelope.Envelope
		mutate    func(*http.Request)
		want      string // the link's reason
		audited   bool
		residency bool
		body      string // sent (and sealed) instead of body
		status    int    // the answer's and the event's status; 0: 403
	}{
		{"an eu. profile asked of a US destination", fromEU, env("req-excludes", "us-east-1", "eu.demo.chat-small"), nil, "profile_excludes_destination", true, true, "", 0},
		{"a us. profile from an EU source", fromEU, env("req-geography", "us-east-1", "us.demo.chat-small"), nil, "geography_mismatch", true, true, "", 0},
		{"a profile unknown here", fromEU, env("req-unknown", "us-east-1", "eu.no-such-model"), nil, "unknown_profile", true, true, "", 0},
		{"another destination", fromEU, env("req-elsewhere", "eu-central-1", "global.demo.chat-small"), nil, "wrong_destination", true, true, "", 0},
		{"an altered body", fromEU, env("req-body", "us-east-1", "global.demo.chat-small"),
			func(r *http.Request) { r.Body = http.NoBody; r.ContentLength = 0 }, "body_hash", true, false, "", 0},
		{name: "a source region other than the certificate's", peer: fromEU, env: env("req-claims-other", "us-east-1", "global.demo.chat-small"),
			mutate: claimOther, want: "region_mismatch", audited: true},
		{name: "a body the destination cannot parse", peer: fromEU, env: env("req-unparsable", "us-east-1", "global.demo.chat-small"),
			want: "malformed forwarded request", audited: true, body: `{"messages":`, status: 400},
		{"a tampered signature", fromEU, env("req-tampered", "us-east-1", "eu.demo.chat-small"), tamper, "bad_signature", false, false, "", 0},
		{"a signer of another CA", otherSigner, env("req-other-ca", "us-east-1", "eu.demo.chat-small"), nil, "bad_signature", false, false, "", 0},
	}
	statusOf := func(i int) int {
		if tests[i].status != 0 {
			return tests[i].status
		}
		return 403
	}
	for i, tc := range tests {
		sent := body
		if tc.body != "" {
			sent = tc.body
		}
		status, b := tc.peer.forward(addr, tc.env, sent, tc.mutate)
		if status != statusOf(i) || !strings.Contains(b, tc.want) {
			t.Errorf("%s: status %d body %s, want %d naming %s", tc.name, status, b, statusOf(i), tc.want)
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
	check := func(name, id, reason string, audited bool, status int) {
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
		if e.Side != audit.SideDestination || e.SourceRegion != "eu-west-1" || e.InferenceRegion != "" || e.StatusCode != status ||
			e.Decision.Allowed || !strings.Contains(e.Decision.Reason, reason) {
			t.Errorf("%s: event side %s source %s inference %q status %d decision %+v, want a destination-side %d from eu-west-1, not allowed, reason naming %s",
				name, e.Side, e.SourceRegion, e.InferenceRegion, e.StatusCode, e.Decision, status, reason)
		}
	}
	check("the mis-configured source's forward", rogueID, "profile_excludes_destination", true, 403)
	for i, tc := range tests {
		check(tc.name, tc.env.RequestID, tc.want, tc.audited, statusOf(i))
	}
	// The replayed request has the event of its first, served send only.
	if got := events["req-replayed"]; len(got) != 1 || got[0].StatusCode != 200 {
		t.Errorf("replayed request: %d events, want the served one only", len(got))
	}
}
