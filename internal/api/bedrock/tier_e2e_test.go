package bedrock_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// upstreamLog is a simulated Bedrock (mockllm) behind a recorder of each
// request's path, service-tier header and body.
type upstreamLog struct {
	mu   sync.Mutex
	seen []upstreamSeen
}

type upstreamSeen struct {
	path string
	tier []string
	body []byte
}

func (l *upstreamLog) server(t *testing.T) *httptest.Server {
	// The Claude model of tierCluster stands for one that offers priority
	// and flex (Bedrock's own Claude models do not: serverWith).
	return l.serverWith(t, mockllm.Config{CompletionTokens: 4, ServiceTiers: map[string][]string{"anthropic.claude-sonnet-4-5": {"priority", "flex"}}})
}

// serverWith is server with the simulated Bedrock's cfg.
func (l *upstreamLog) serverWith(t *testing.T, cfg mockllm.Config) *httptest.Server {
	next := mockllm.New(cfg).Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		l.seen = append(l.seen, upstreamSeen{path: r.URL.Path, tier: r.Header.Values("X-Amzn-Bedrock-Service-Tier"), body: body})
		l.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (l *upstreamLog) take() []upstreamSeen {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.seen
	l.seen = nil
	return s
}

// tierCluster boots eu-west-1 (no deployment) and eu-central-1, whose
// demo.chat-small is a bedrock deployment of a Claude model at upstream
// declaring priority and flex (service_tiers): eu.demo.chat-small called
// in eu-west-1 is forwarded over the link.
func tierCluster(t *testing.T, upstream string) *cluster {
	return tierClusterWith(t, upstream, ", service_tiers: [priority, flex]")
}

// tierClusterWith is tierCluster with the deployment's extra members
// (declared: "" declares no tier).
func tierClusterWith(t *testing.T, upstream, declared string) *cluster {
	t.Helper()
	// The bedrock deployment's own credentials (default chain: environment).
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDDEPLOYMENT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "deployment-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	deployments := fmt.Sprintf("models:\n  - {id: demo.chat-small}\ndeployments:\n"+
		"  - {model: demo.chat-small, region: eu-central-1, backend: {type: bedrock, aws_region: eu-central-1, model: anthropic.claude-sonnet-4-5, endpoint: %q, residency_checked: true}%s}\n", upstream, declared)
	return bootCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}}, deployments, "", "")
}

// withHeader adds a request header to an SDK call.
func withHeader(name, value string) func(*bedrockruntime.Options) {
	return func(o *bedrockruntime.Options) {
		o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue(name, value))
	}
}

// TestServiceTierReachesBedrock: a tier asked for with the official
// client (InvokeModelInput.ServiceTier, which the SDK sends as the
// X-Amzn-Bedrock-Service-Tier header; the same header on Converse; or
// Converse's serviceTier) reaches the Bedrock upstream as that header on
// every operation, streamed or not, served in the region called or
// forwarded over the link, with the caller's body unchanged; the answer's
// tier headers name the tier Bedrock was asked for, and
// X-Amzn-Bedrock-Service-Tier the tier Bedrock reports it served (reserved,
// asked for in a Converse body, is admitted as default). A header and a body
// that disagree are refused with a ValidationException naming both, and
// nothing reaches Bedrock.
func TestServiceTierReachesBedrock(t *testing.T) {
	var log upstreamLog
	up := log.server(t)
	c := tierCluster(t, up.URL)
	profile := aws.String("eu.demo.chat-small")
	invokeBody := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
	msgs := userMessage("hi")
	type result struct {
		header http.Header
		err    error
	}
	drain := func(events int, err error) error {
		if err == nil && events == 0 {
			return errors.New("no events")
		}
		return err
	}
	tests := []struct {
		name     string
		path     string
		call     func(t *testing.T, rt *bedrockruntime.Client) result
		tier     string // the header Bedrock must receive and the answer name; "" for none
		bodyTier string // the caller's body's serviceTier.type, carried as is
		refused  string // a ValidationException's message contains it
		// reported is the answer's X-Amzn-Bedrock-Service-Tier when it is
		// not the tier asked for: what Bedrock reports it served.
		reported string
	}{
		{"InvokeModel priority", "/invoke", func(t *testing.T, rt *bedrockruntime.Client) result {
			out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: profile, Body: invokeBody,
				ContentType: aws.String("application/json"), ServiceTier: rttypes.ServiceTierTypePriority})
			if err != nil {
				return result{err: err}
			}
			if out.ServiceTier != rttypes.ServiceTierTypePriority {
				t.Errorf("InvokeModelOutput.ServiceTier %q, want priority", out.ServiceTier)
			}
			return result{header: rawResponseHeader(out.ResultMetadata)}
		}, "priority", "", "", ""},
		{"InvokeModelWithResponseStream flex", "/invoke-with-response-stream", func(t *testing.T, rt *bedrockruntime.Client) result {
			out, err := rt.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: profile, Body: invokeBody,
				ContentType: aws.String("application/json"), ServiceTier: rttypes.ServiceTierTypeFlex})
			if err != nil {
				return result{err: err}
			}
			n := 0
			for range out.GetStream().Events() {
				n++
			}
			if out.ServiceTier != rttypes.ServiceTierTypeFlex {
				t.Errorf("InvokeModelWithResponseStreamOutput.ServiceTier %q, want flex", out.ServiceTier)
			}
			return result{header: rawResponseHeader(out.ResultMetadata), err: drain(n, out.GetStream().Err())}
		}, "flex", "", "", ""},
		{"InvokeModel without a tier", "/invoke", func(t *testing.T, rt *bedrockruntime.Client) result {
			out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: profile, Body: invokeBody, ContentType: aws.String("application/json")})
			if err != nil {
				return result{err: err}
			}
			return result{header: rawResponseHeader(out.ResultMetadata)}
		}, "", "", "", ""},
		{"Converse priority by header", "/converse", func(t *testing.T, rt *bedrockruntime.Client) result {
			out, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: profile, Messages: msgs},
				withHeader("X-Amzn-Bedrock-Service-Tier", "priority"))
			if err != nil {
				return result{err: err}
			}
			return result{header: rawResponseHeader(out.ResultMetadata)}
		}, "priority", "", "", ""},
		{"Converse flex in the body", "/converse", func(t *testing.T, rt *bedrockruntime.Client) result {
			out, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: profile, Messages: msgs,
				ServiceTier: &rttypes.ServiceTier{Type: rttypes.ServiceTierTypeFlex}})
			if err != nil {
				return result{err: err}
			}
			return result{header: rawResponseHeader(out.ResultMetadata)}
		}, "flex", "flex", "", ""},
		{"ConverseStream priority by header and body", "/converse-stream", func(t *testing.T, rt *bedrockruntime.Client) result {
			out, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: profile, Messages: msgs,
				ServiceTier: &rttypes.ServiceTier{Type: rttypes.ServiceTierTypePriority}}, withHeader("X-Amzn-Bedrock-Service-Tier", "priority"))
			if err != nil {
				return result{err: err}
			}
			n := 0
			for range out.GetStream().Events() {
				n++
			}
			return result{header: rawResponseHeader(out.ResultMetadata), err: drain(n, out.GetStream().Err())}
		}, "priority", "priority", "", ""},
		{"Converse reserved in the body", "/converse", func(t *testing.T, rt *bedrockruntime.Client) result {
			out, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: profile, Messages: msgs,
				ServiceTier: &rttypes.ServiceTier{Type: rttypes.ServiceTierTypeReserved}})
			if err != nil {
				return result{err: err}
			}
			if out.ServiceTier == nil || out.ServiceTier.Type != rttypes.ServiceTierTypeReserved {
				t.Errorf("ConverseOutput.ServiceTier %v, want reserved", out.ServiceTier)
			}
			return result{header: rawResponseHeader(out.ResultMetadata)}
		}, "", "reserved", "", "reserved"},
		{"Converse header and body disagree", "", func(t *testing.T, rt *bedrockruntime.Client) result {
			_, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: profile, Messages: msgs,
				ServiceTier: &rttypes.ServiceTier{Type: rttypes.ServiceTierTypeFlex}}, withHeader("X-Amzn-Bedrock-Service-Tier", "priority"))
			return result{err: err}
		}, "", "", `X-Amzn-Bedrock-Service-Tier: "priority" and serviceTier.type: "flex"`, ""},
		{"ConverseStream header and body disagree", "", func(t *testing.T, rt *bedrockruntime.Client) result {
			_, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: profile, Messages: msgs,
				ServiceTier: &rttypes.ServiceTier{Type: rttypes.ServiceTierTypeReserved}}, withHeader("X-Amzn-Bedrock-Service-Tier", "default"))
			return result{err: err}
		}, "", "", `X-Amzn-Bedrock-Service-Tier: "default" and serviceTier.type: "reserved"`, ""},
	}
	for _, where := range []struct{ name, region string }{{"local", "eu-central-1"}, {"forwarded", "eu-west-1"}} {
		rt := c.runtimeClient(where.region)
		for _, tc := range tests {
			t.Run(where.name+"/"+tc.name, func(t *testing.T) {
				log.take()
				res := tc.call(t, rt)
				seen := log.take()
				if tc.refused != "" {
					var ve *rttypes.ValidationException
					if !errors.As(res.err, &ve) || !strings.Contains(ve.ErrorMessage(), tc.refused) {
						t.Fatalf("error %v, want a ValidationException containing %q", res.err, tc.refused)
					}
					if len(seen) != 0 {
						t.Errorf("Bedrock received %d requests of a refused one", len(seen))
					}
					return
				}
				if res.err != nil {
					t.Fatal(res.err)
				}
				if got := res.header.Get("X-Meridian-Inference-Region"); got != "eu-central-1" {
					t.Fatalf("inference region %q, want eu-central-1", got)
				}
				if len(seen) != 1 || !strings.HasSuffix(seen[0].path, tc.path) {
					t.Fatalf("Bedrock received %+v, want one request to %s", seen, tc.path)
				}
				want := []string(nil)
				if tc.tier != "" {
					want = []string{tc.tier}
				}
				if fmt.Sprint(seen[0].tier) != fmt.Sprint(want) {
					t.Errorf("Bedrock received X-Amzn-Bedrock-Service-Tier %q, want %q", seen[0].tier, want)
				}
				bt := ""
				if f := inference.Field(inference.Field(seen[0].body, "serviceTier"), "type"); f != nil {
					bt = strings.Trim(string(f), `"`)
				}
				if bt != tc.bodyTier {
					t.Errorf("Bedrock received serviceTier.type %q, want %q", bt, tc.bodyTier)
				}
				if tc.path == "/invoke" || tc.path == "/invoke-with-response-stream" {
					if !bytes.Equal(seen[0].body, invokeBody) {
						t.Errorf("InvokeModel body changed: %s", seen[0].body)
					}
				}
				// The tier Meridian admitted the request in is the one Bedrock
				// was asked for; Bedrock's report, where it differs, is its
				// header's.
				served := tc.tier
				if served == "" {
					served = "default"
				}
				reported := served
				if tc.reported != "" {
					reported = tc.reported
				}
				if got := res.header.Get("X-Meridian-Service-Tier"); got != served {
					t.Errorf("answer's X-Meridian-Service-Tier %q, want %q (the tier admitted and asked for)", got, served)
				}
				if got := res.header.Get("X-Amzn-Bedrock-Service-Tier"); got != reported {
					t.Errorf("answer's X-Amzn-Bedrock-Service-Tier %q, want %q (what Bedrock reported or was asked for)", got, reported)
				}
			})
		}
	}
}

// rawResponseHeader returns the HTTP header of the response an SDK call's
// result metadata holds.
func rawResponseHeader(m middleware.Metadata) http.Header {
	if r, ok := awsmiddleware.GetRawResponse(m).(*smithyhttp.Response); ok {
		return r.Header
	}
	return http.Header{}
}

// TestServiceTierOpenAIClient: an OpenAI Chat Completions caller's tier
// header reaches the bedrock deployment as the same header beside the
// translated Converse body, a body service_tier as Converse serviceTier
// with the header, and a header and a service_tier that disagree are
// refused in OpenAI's error shape naming both, before any upstream call.
func TestServiceTierOpenAIClient(t *testing.T) {
	var log upstreamLog
	up := log.server(t)
	c := tierCluster(t, up.URL)
	for _, tc := range []struct {
		name, header, body string
		status             int
		tier, bodyTier     string
		msg                string
	}{
		{"header", "priority", `{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"hi"}]}`, 200, "priority", "", ""},
		{"body", "", `{"model":"eu.demo.chat-small","service_tier":"flex","messages":[{"role":"user","content":"hi"}]}`, 200, "flex", "flex", ""},
		{"disagree", "priority", `{"model":"eu.demo.chat-small","service_tier":"flex","messages":[{"role":"user","content":"hi"}]}`, 400, "", "",
			`X-Amzn-Bedrock-Service-Tier: \"priority\" and service_tier: \"flex\"`},
	} {
		for _, region := range []string{"eu-central-1", "eu-west-1"} {
			t.Run(tc.name+"/"+region, func(t *testing.T) {
				log.take()
				req, _ := http.NewRequest(http.MethodPost, c.url(region)+"/v1/chat/completions", strings.NewReader(tc.body))
				req.Header.Set("Authorization", "Bearer "+c.key)
				req.Header.Set("Content-Type", "application/json")
				if tc.header != "" {
					req.Header.Set("X-Amzn-Bedrock-Service-Tier", tc.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				seen := log.take()
				if resp.StatusCode != tc.status {
					t.Fatalf("%d %s, want %d", resp.StatusCode, b, tc.status)
				}
				if tc.status != 200 {
					if !strings.Contains(string(b), tc.msg) || !strings.Contains(string(b), `"param":"service_tier"`) || !strings.Contains(string(b), `"invalid_request_error"`) {
						t.Errorf("refusal %s, want an invalid_request_error naming both", b)
					}
					if len(seen) != 0 {
						t.Errorf("the upstream received %d requests", len(seen))
					}
					return
				}
				if len(seen) != 1 || fmt.Sprint(seen[0].tier) != fmt.Sprint([]string{tc.tier}) {
					t.Fatalf("the upstream received %+v, want one request with tier header %q", seen, tc.tier)
				}
				bt := ""
				if f := inference.Field(inference.Field(seen[0].body, "serviceTier"), "type"); f != nil {
					bt = strings.Trim(string(f), `"`)
				}
				if bt != tc.bodyTier {
					t.Errorf("translated body's serviceTier.type %q, want %q", bt, tc.bodyTier)
				}
				if got := resp.Header.Get("X-Meridian-Service-Tier"); got != tc.tier {
					t.Errorf("X-Meridian-Service-Tier %q, want %q", got, tc.tier)
				}
			})
		}
	}
}

// TestServiceTierUndeclared: a deployment that declares no service_tiers
// (a Claude model, which Bedrock offers neither priority nor flex for: the
// simulated Bedrock refuses them with a ValidationException, as Bedrock
// does) is not asked for the caller's priority or flex: the request is
// served, locally and forwarded, Bedrock receives no tier header, and every
// tier header of the answer (and the SDK's output) says default.
func TestServiceTierUndeclared(t *testing.T) {
	var log upstreamLog
	up := log.serverWith(t, mockllm.Config{CompletionTokens: 4})
	c := tierClusterWith(t, up.URL, "")
	profile := aws.String("eu.demo.chat-small")
	invokeBody := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
	for _, region := range []string{"eu-central-1", "eu-west-1"} {
		rt := c.runtimeClient(region)
		t.Run(region+"/InvokeModel priority", func(t *testing.T) {
			log.take()
			out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: profile, Body: invokeBody,
				ContentType: aws.String("application/json"), ServiceTier: rttypes.ServiceTierTypePriority})
			if err != nil {
				t.Fatal(err)
			}
			if out.ServiceTier != rttypes.ServiceTierTypeDefault {
				t.Errorf("InvokeModelOutput.ServiceTier %q, want default", out.ServiceTier)
			}
			h := rawResponseHeader(out.ResultMetadata)
			if got := h.Get("X-Meridian-Service-Tier"); got != "default" {
				t.Errorf("X-Meridian-Service-Tier %q, want default", got)
			}
			if seen := log.take(); len(seen) != 1 || len(seen[0].tier) != 0 {
				t.Errorf("Bedrock received %+v, want one request without a tier header", seen)
			}
		})
		t.Run(region+"/chat completions body flex, translated", func(t *testing.T) {
			log.take()
			req, _ := http.NewRequest(http.MethodPost, c.url(region)+"/v1/chat/completions",
				strings.NewReader(`{"model":"eu.demo.chat-small","service_tier":"flex","messages":[{"role":"user","content":"hi"}]}`))
			req.Header.Set("Authorization", "Bearer "+c.key)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("X-Meridian-Service-Tier") != "default" {
				t.Fatalf("%d %s, X-Meridian-Service-Tier %q; want 200 served as default", resp.StatusCode, b, resp.Header.Get("X-Meridian-Service-Tier"))
			}
			seen := log.take()
			if len(seen) != 1 || len(seen[0].tier) != 0 {
				t.Fatalf("Bedrock received %+v, want one request without a tier header", seen)
			}
			if f := string(inference.Field(inference.Field(seen[0].body, "serviceTier"), "type")); f != `"default"` {
				t.Errorf("translated body's serviceTier.type %s, want \"default\" (body %s)", f, seen[0].body)
			}
		})
		t.Run(region+"/ConverseStream flex by header", func(t *testing.T) {
			log.take()
			out, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: profile, Messages: userMessage("hi")},
				withHeader("X-Amzn-Bedrock-Service-Tier", "flex"))
			if err != nil {
				t.Fatal(err)
			}
			for range out.GetStream().Events() {
			}
			if err := out.GetStream().Err(); err != nil {
				t.Fatal(err)
			}
			h := rawResponseHeader(out.ResultMetadata)
			if got, bt := h.Get("X-Meridian-Service-Tier"), h.Get("X-Amzn-Bedrock-Service-Tier"); got != "default" || bt != "default" {
				t.Errorf("X-Meridian-Service-Tier %q, X-Amzn-Bedrock-Service-Tier %q, want default", got, bt)
			}
			if seen := log.take(); len(seen) != 1 || len(seen[0].tier) != 0 {
				t.Errorf("Bedrock received %+v, want one request without a tier header", seen)
			}
		})
	}
}

// TestServiceTierServedOtherwise: Bedrock serving another tier than asked
// (flex served as default): an InvokeModel answer served in the region
// called names what Bedrock reported; a forwarded one, whose report the
// link's answer form does not carry, names the tier Bedrock was asked
// for, whatever the link's encoding; a Converse answer names what its own
// body says, local or forwarded. X-Meridian-Service-Tier is the tier asked
// for in every case.
func TestServiceTierServedOtherwise(t *testing.T) {
	var log upstreamLog
	up := log.serverWith(t, mockllm.Config{CompletionTokens: 4, ServedTier: "default",
		ServiceTiers: map[string][]string{"anthropic.claude-sonnet-4-5": {"priority", "flex"}}})
	c := tierCluster(t, up.URL)
	profile := aws.String("eu.demo.chat-small")
	invokeBody := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
	for _, tc := range []struct {
		region, invokeReport string
	}{{"eu-central-1", "default"}, {"eu-west-1", "flex"}} {
		rt := c.runtimeClient(tc.region)
		out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: profile, Body: invokeBody,
			ContentType: aws.String("application/json"), ServiceTier: rttypes.ServiceTierTypeFlex})
		if err != nil {
			t.Fatal(err)
		}
		h := rawResponseHeader(out.ResultMetadata)
		if got := h.Get("X-Amzn-Bedrock-Service-Tier"); got != tc.invokeReport {
			t.Errorf("%s InvokeModel: X-Amzn-Bedrock-Service-Tier %q, want %q", tc.region, got, tc.invokeReport)
		}
		if got := h.Get("X-Meridian-Service-Tier"); got != "flex" {
			t.Errorf("%s InvokeModel: X-Meridian-Service-Tier %q, want flex", tc.region, got)
		}
		cout, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: profile, Messages: userMessage("hi")},
			withHeader("X-Amzn-Bedrock-Service-Tier", "flex"))
		if err != nil {
			t.Fatal(err)
		}
		if got := rawResponseHeader(cout.ResultMetadata).Get("X-Amzn-Bedrock-Service-Tier"); got != "default" {
			t.Errorf("%s Converse: X-Amzn-Bedrock-Service-Tier %q, want default (the answer's serviceTier)", tc.region, got)
		}
	}
}

// TestServiceTierConverseDialectField: on Converse only serviceTier.type
// asks for a tier: a body that also names service_tier is admitted in
// serviceTier.type's tier (it was admitted in service_tier's while Bedrock
// was asked for the other), so a header naming service_tier's tier
// disagrees with it; a body tier that names no tier is refused beside a
// valid header. Refusals reach no upstream.
func TestServiceTierConverseDialectField(t *testing.T) {
	var log upstreamLog
	up := log.server(t)
	c := tierCluster(t, up.URL)
	both := `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"service_tier":"flex","serviceTier":{"type":"priority"}}`
	for _, tc := range []struct {
		name, header, body string
		status             int
		served, msg        string
	}{
		{"both fields, no header", "", both, 200, "priority", ""},
		{"both fields, header flex", "flex", both, 400, "", `X-Amzn-Bedrock-Service-Tier: \"flex\" and serviceTier.type: \"priority\"`},
		{"header flex, body gold", "flex", `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"serviceTier":{"type":"gold"}}`, 400, "", `serviceTier.type: \"gold\" is not a service tier`},
	} {
		for _, region := range []string{"eu-central-1", "eu-west-1"} {
			t.Run(tc.name+"/"+region, func(t *testing.T) {
				log.take()
				req, _ := http.NewRequest(http.MethodPost, c.url(region)+"/model/eu.demo.chat-small/converse", strings.NewReader(tc.body))
				req.Header.Set("Authorization", "Bearer "+c.key)
				req.Header.Set("Content-Type", "application/json")
				if tc.header != "" {
					req.Header.Set("X-Amzn-Bedrock-Service-Tier", tc.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				seen := log.take()
				if resp.StatusCode != tc.status {
					t.Fatalf("%d %s, want %d", resp.StatusCode, b, tc.status)
				}
				if tc.status != 200 {
					if !strings.Contains(string(b), tc.msg) || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" {
						t.Errorf("refusal %s (%s), want a ValidationException containing %s", b, resp.Header.Get("X-Amzn-Errortype"), tc.msg)
					}
					if len(seen) != 0 {
						t.Errorf("the upstream received %d requests", len(seen))
					}
					return
				}
				if got := resp.Header.Get("X-Meridian-Service-Tier"); got != tc.served {
					t.Errorf("X-Meridian-Service-Tier %q, want %q", got, tc.served)
				}
				if len(seen) != 1 || fmt.Sprint(seen[0].tier) != fmt.Sprint([]string{tc.served}) {
					t.Errorf("the upstream received %+v, want one request asking %s", seen, tc.served)
				}
			})
		}
	}
}
