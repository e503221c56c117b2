package bedrock_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/api/bedrock"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// usGeoGateway is the gateway of us-east-1, the one region of the US
// geography, where models m and eu.m (a model id that looks like an EU
// profile) are served by b: us.m and us.eu.m are its system profiles.
func usGeoGateway(t *testing.T, key string, b gateway.Backend) *gateway.Gateway {
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
	g, err := gateway.New(gateway.Options{Region: "us-east-1", Config: cfg, Authorizer: gateway.AllowAll{}, Backends: map[string]gateway.Backend{"m": b, "eu.m": b}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestInvokeInferenceGeo: InvokeModel applies the /v1/messages rule for
// Anthropic's inference_geo (internal/api/anthropic, InferenceGeo), toward
// a Claude deployment on Bedrock and toward a translated one alike: null,
// "global" and the geography of the system profile invoked are accepted
// and left out of the body the deployment receives; a model id that only
// looks like a profile of that geography, another geography, and a member
// named with an escape, twice or in another case are a ValidationException
// naming inference_geo that reaches no upstream, also in a body read as
// another family's (anthropic_version written with an escape).
func TestInvokeInferenceGeo(t *testing.T) {
	t.Parallel()
	const key = "sk-test-bedrock-geo"
	claudeURL, claudeGot := backendtest.Answer(t, `{"id":"msg_up","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}`)
	claudeBodies := make(chan []byte, 1)
	go func() {
		for r := range claudeGot {
			claudeBodies <- r.Body
		}
	}()
	modelURL, modelGot := backendtest.Model(t)
	targets := []struct {
		name string
		srv  string
		got  <-chan []byte
		want string // a substring of the body the upstream receives
	}{
		{"claude", apitest.Serve(t, bedrock.New(usGeoGateway(t, key, backendtest.Bedrock(t, "anthropic.claude-sonnet-4-5", claudeURL)), bedrock.Options{DataDir: t.TempDir()})).URL, claudeBodies,
			`{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`},
		{"translated", apitest.Serve(t, bedrock.New(usGeoGateway(t, key, backendtest.OpenAI(t, modelURL)), bedrock.Options{DataDir: t.TempDir()})).URL, modelGot,
			`"max_completion_tokens":16`},
	}
	const arn = "arn:aws:bedrock:us-east-1:111122223333:inference-profile%2Fus.m"
	for _, tgt := range targets {
		for _, tc := range []struct{ name, model, op, version, geo, wantErr string }{
			{name: "us profile", model: "us.m", geo: `"inference_geo":"us"`},
			{name: "us profile ARN", model: arn, geo: `"inference_geo":"us"`},
			{name: "null", model: "us.m", geo: `"inference_geo":null`},
			{name: "global", model: "eu.m", geo: `"inference_geo":"global"`},
			{name: "model id that looks like an eu profile", model: "eu.m", geo: `"inference_geo":"eu"`, wantErr: `inference_geo: "eu" cannot be honoured`},
			{name: "stream, model id", model: "eu.m", op: "invoke-with-response-stream", geo: `"inference_geo":"eu"`, wantErr: `inference_geo: "eu" cannot be honoured`},
			{name: "other geography", model: "us.m", geo: `"inference_geo":"eu"`, wantErr: `inference_geo: "eu" cannot be honoured`},
			{name: "bare model id", model: "m", geo: `"inference_geo":"us"`, wantErr: `inference_geo: "us" cannot be honoured`},
			{name: "escaped key", model: "us.m", geo: `"inference\u005fgeo":"eu"`, wantErr: "inference_geo is named with an escape"},
			{name: "twice", model: "us.m", geo: `"inference_geo":"us","inference_geo":"eu"`, wantErr: "inference_geo is named more than once"},
			{name: "other case", model: "us.m", geo: `"Inference_Geo":"eu"`, wantErr: "inference_geo is named with an escape or in another case"},
			// Read as another family's body, whose members Meridian reads
			// (anthropic_version among them) are refused when ambiguous
			// (internal/gateway/ambiguous.go); the geography, decided by
			// the front end, comes first.
			{name: "escaped anthropic_version", model: "us.m", version: `"anthropic\u005fversion"`, geo: `"inference_geo":"us"`, wantErr: `anthropic_version is named with an escape`},
			{name: "escaped anthropic_version, other geography", model: "us.m", version: `"anthropic\u005fversion"`, geo: `"inference_geo":"eu"`, wantErr: `inference_geo: "eu" cannot be honoured`},
		} {
			t.Run(tgt.name+"/"+tc.name, func(t *testing.T) {
				op := tc.op
				if op == "" {
					op = "invoke"
				}
				version := tc.version
				if version == "" {
					version = `"anthropic_version"`
				}
				body := `{` + version + `:"bedrock-2023-05-31","max_tokens":16,` + tc.geo + `,"messages":[{"role":"user","content":"hi"}]}`
				resp, out := apitest.Post(t, tgt.srv+"/model/"+tc.model+"/"+op, body, "Authorization", "Bearer "+key)
				if tc.wantErr == "" {
					apitest.Forwarded(t, resp, out, tgt.got, []string{tgt.want})
					return
				}
				var e struct{ Message string }
				if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" || json.Unmarshal(out, &e) != nil || !strings.HasPrefix(e.Message, tc.wantErr) {
					t.Fatalf("status %d type %q %.400s, want a 400 ValidationException starting %q", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"), out, tc.wantErr)
				}
				apitest.Withheld(t, out, tgt.got)
			})
		}
	}
}
