package anthropic

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// usGateway is the gateway of us-east-1, the one region of the US
// geography, where models m and eu.m (a model id that looks like an EU
// profile) are served by b: us.m and us.eu.m are its system profiles, and
// no region is in an EU geography. Principal p authenticates with key.
func usGateway(t *testing.T, key string, b gateway.Backend) *gateway.Gateway {
	t.Helper()
	g, err := gateway.New(gateway.Options{Region: "us-east-1", Config: usTopology(t, key), Authorizer: gateway.AllowAll{}, Backends: map[string]gateway.Backend{"m": b, "eu.m": b}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// usTopology is usGateway's topology.
func usTopology(t testing.TB, key string) *topology.Config {
	t.Helper()
	cfg, err := topology.Parse(fmt.Appendf(nil, `account: "111122223333"
geographies: { us: { name: US } }
regions: [ { id: us-east-1, geography: us, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" } ]
models: [ { id: m, context_window: 8192 }, { id: eu.m, context_window: 8192 } ]
deployments: [ { model: m, region: us-east-1, backend: { type: mock } }, { model: eu.m, region: us-east-1, backend: { type: mock } } ]
principals: [ { id: p, api_keys: [%q] } ]
`, auth.HashKey(key)), "geo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestInferenceGeoOnTheResolvedProfile: inference_geo is decided on the
// profile the model resolves to, not on the model name's text, and on the
// member as Bedrock decodes it. With a model id eu.m deployed only in
// us-east-1, inference_geo "eu" is refused (it was served in the US); the
// system profile us.m, by id or ARN, takes "us"; a bare model id or
// another geography is refused. A member named with an escape, twice or
// in another case is refused naming inference_geo, never sent upstream
// unchecked.
func TestInferenceGeoOnTheResolvedProfile(t *testing.T) {
	t.Parallel()
	const key = "sk-test-anthropic-geo-resolved"
	url, got := backendtest.Answer(t, `{"id":"msg_up","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}`)
	srv := apitest.Serve(t, New(usGateway(t, key, backendtest.Bedrock(t, "anthropic.claude-sonnet-4-5", url)), Options{}))
	const arn = "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.m"
	for _, tc := range []struct{ name, model, geo, wantErr string }{
		{name: "model id that looks like an eu profile", model: "eu.m", geo: `"inference_geo":"eu"`, wantErr: `inference_geo: "eu" cannot be honoured`},
		{name: "us profile of eu.m", model: "us.eu.m", geo: `"inference_geo":"eu"`, wantErr: `inference_geo: "eu" cannot be honoured`},
		{name: "bare model id", model: "m", geo: `"inference_geo":"us"`, wantErr: `inference_geo: "us" cannot be honoured`},
		{name: "unknown model", model: "eu.nothing", geo: `"inference_geo":"eu"`, wantErr: `inference_geo: "eu" cannot be honoured`},
		{name: "us profile", model: "us.m", geo: `"inference_geo":"us"`},
		{name: "us profile of eu.m takes us", model: "us.eu.m", geo: `"inference_geo":"us"`},
		{name: "us profile ARN", model: arn, geo: `"inference_geo":"us"`},
		{name: "global", model: "eu.m", geo: `"inference_geo":"global"`},
		{name: "escaped key", model: "us.m", geo: `"inference\u005fgeo":"eu"`, wantErr: "inference_geo is named with an escape"},
		{name: "escaped key, accepted value", model: "us.m", geo: `"inference\u005fgeo":"us"`, wantErr: "inference_geo is named with an escape"},
		{name: "escaped key, model id", model: "eu.m", geo: `"\u0069nference_geo":"eu"`, wantErr: "inference_geo is named with an escape"},
		{name: "twice", model: "us.m", geo: `"inference_geo":"us","inference_geo":"eu"`, wantErr: "inference_geo is named more than once"},
		{name: "twice, other case", model: "us.m", geo: `"inference_geo":"us","Inference_Geo":"eu"`, wantErr: "inference_geo is named more than once"},
		{name: "other case", model: "us.m", geo: `"INFERENCE_GEO":"eu"`, wantErr: "inference_geo is named with an escape or in another case"},
		{name: "escaped value", model: "us.m", geo: `"inference_geo":"\u0075s"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"model":` + `"` + tc.model + `"` + `,"max_tokens":16,` + tc.geo + `,"messages":[{"role":"user","content":"hi"}]}`
			resp, out := apitest.Post(t, srv.URL+"/v1/messages", body, "x-api-key", key)
			if tc.wantErr != "" {
				var eb struct{ Error struct{ Message string } }
				json.Unmarshal(out, &eb)
				if resp.StatusCode != 400 || !strings.HasPrefix(eb.Error.Message, tc.wantErr) {
					t.Fatalf("status %d, %.400s; want 400 starting %q", resp.StatusCode, out, tc.wantErr)
				}
				select {
				case r := <-got:
					t.Fatalf("a refused request reached the upstream: %s", r.Body)
				default:
				}
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %.400s", resp.StatusCode, out)
			}
			want := `{"max_tokens":16,"messages":[{"role":"user","content":"hi"}],"anthropic_version":"bedrock-2023-05-31"}`
			if sent := string((<-got).Body); sent != want {
				t.Errorf("upstream received\n%s\nwant\n%s", sent, want)
			}
		})
	}
}

// TestRoutedBodyAsDocumented: the body a Messages request is served with,
// which a receipt's request_sha256 covers, is the one docs/receipts.md
// ("Request bodies the front end rewrites") tells a client to derive:
// model and stream out, anthropic_version appended, an accepted
// inference_geo out with one comma, anthropic-beta values inserted first;
// every other byte, whitespace included, kept.
func TestRoutedBodyAsDocumented(t *testing.T) {
	t.Parallel()
	cat, err := profile.New(usTopology(t, "sk-test-anthropic-routed"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, beta, body, want string }{
		{name: "docs example", body: `{"model":"us.m","max_tokens":16,"inference_geo":"us","messages":[{"role":"user","content":"hi"}]}`,
			want: `{"max_tokens":16,"messages":[{"role":"user","content":"hi"}],"anthropic_version":"bedrock-2023-05-31"}`},
		{name: "last member, spaces", body: `{ "model": "us.m", "max_tokens": 16, "messages": [{"role":"user","content":"hi"}], "inference_geo": null }`,
			want: `{  "max_tokens": 16, "messages": [{"role":"user","content":"hi"}], "anthropic_version":"bedrock-2023-05-31"}`},
		{name: "beta", beta: "b1, b2", body: `{"model":"us.m","stream":true,"inference_geo":"global","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`,
			want: `{"anthropic_beta":["b1","b2"],"max_tokens":16,"messages":[{"role":"user","content":"hi"}],"anthropic_version":"bedrock-2023-05-31"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.beta != "" {
				hdr.Set("Anthropic-Beta", tc.beta)
			}
			req, err := decode(hdr, []byte(tc.body), cat, "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			if string(req.Body) != tc.want {
				t.Errorf("routed body\n%s\nwant (docs/receipts.md)\n%s", req.Body, tc.want)
			}
		})
	}
}

// FuzzInferenceGeo: whatever the body, InferenceGeo either refuses it
// with a bounded 400 naming inference_geo (or the body), or returns a body
// that names inference_geo in no spelling (escapes resolved, case
// folded), so nothing unchecked reaches an upstream; a body that names it
// in no spelling is returned unchanged.
func FuzzInferenceGeo(f *testing.F) {
	cat, err := profile.New(usTopology(f, "sk-test-anthropic-geo-fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`{"max_tokens":1,"inference_geo":"us"}`, `{"inference\u005fgeo":"us"}`, `{"INFERENCE_GEO":null}`,
		`{"inference_geo":"us","inference_geo":"eu"}`, `{"inference_geo":7}`, `{"a":"\n","inference_geo":"global"}`, `{"x_geo":1}`, `{}`, `[]`} {
		f.Add(s, "us.m")
		f.Add(s, "eu.m")
	}
	f.Fuzz(func(t *testing.T, body, model string) {
		if !json.Valid([]byte(body)) {
			return // the front ends read the body as JSON first
		}
		out, err := InferenceGeo(cat, "us-east-1", model, []byte(body))
		if err != nil {
			if e, ok := err.(*inference.Error); !ok || e.Param != "inference_geo" && e.Param != "" || len(e.Message) > 1024 {
				t.Fatalf("error %#v: want a bounded 400 naming inference_geo", err)
			}
			return
		}
		if name, _ := jsonx.Ambiguous(out, "inference_geo"); name != "" || inference.Field(out, "inference_geo") != nil {
			t.Fatalf("InferenceGeo(%q) = %q, which still names inference_geo", body, out)
		}
		if name, _ := jsonx.Ambiguous([]byte(body), "inference_geo"); name == "" && inference.Field([]byte(body), "inference_geo") == nil && string(out) != body {
			t.Fatalf("InferenceGeo(%q) = %q: a body without the member was changed", body, out)
		}
	})
}

// BenchmarkInferenceGeo: the cost of the rule on a body without the
// member, with and without escapes in its text (which take the member
// scan), and with an accepted member.
func BenchmarkInferenceGeo(b *testing.B) {
	cat, err := profile.New(usTopology(b, "sk-test-anthropic-geo-bench"))
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 40)
	for _, bc := range []struct{ name, body string }{
		{"absent", `{"max_tokens":256,"messages":[{"role":"user","content":"` + text + `"}],"anthropic_version":"bedrock-2023-05-31"}`},
		{"absent_escapes", `{"max_tokens":256,"messages":[{"role":"user","content":"` + text + `\n"}],"anthropic_version":"bedrock-2023-05-31"}`},
		{"us", `{"max_tokens":256,"inference_geo":"us","messages":[{"role":"user","content":"` + text + `"}],"anthropic_version":"bedrock-2023-05-31"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			body := []byte(bc.body)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := InferenceGeo(cat, "us-east-1", "us.m", body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
