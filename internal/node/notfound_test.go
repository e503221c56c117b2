package node

import (
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsbedrock "github.com/aws/aws-sdk-go-v2/service/bedrock"
	cptypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rtdoc "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	oa "github.com/openai/openai-go/v3"
)

// TestOpenAINotFoundRequestID: an unknown /v1 path and a served one asked
// with the wrong method are answered in OpenAI's error shape with an
// x-request-id equal to x-meridian-request-id, which openai-go's error
// carries (its Response), as every other OpenAI-shaped answer does.
func TestOpenAINotFoundRequestID(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "")
	cl := c.client("eu-west-1")
	for _, tc := range []struct {
		name, method, path string
		status             int
	}{
		{"unknown path", http.MethodGet, "unknown", http.StatusNotFound},
		{"unknown path under a served one", http.MethodPost, "chat/completions/x", http.StatusNotFound},
		{"wrong method", http.MethodDelete, "chat/completions", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cl.Execute(context.Background(), tc.method, tc.path, nil, nil)
			var apiErr *oa.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *openai.Error", err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Type != "invalid_request_error" {
				t.Errorf("status %d type %q, want %d invalid_request_error", apiErr.StatusCode, apiErr.Type, tc.status)
			}
			id, mid := apiErr.Response.Header.Get("X-Request-Id"), apiErr.Response.Header.Get("X-Meridian-Request-Id")
			if id == "" || id != mid {
				t.Errorf("x-request-id %q, x-meridian-request-id %q: want equal and set", id, mid)
			}
		})
	}
}

// TestBedrockUnservedOperationsTyped: every Bedrock operation Meridian does
// not serve, called with the official SDKs (bedrock-runtime and the
// bedrock control plane), fails with the typed API error the SDK makes of
// Bedrock's UnknownOperationException, with a request id, not with a
// deserialization error (Go's plain-text "404 page not found").
func TestBedrockUnservedOperationsTyped(t *testing.T) {
	const akid, secret, env = "AKIDUNSERVED", "unserved-secret-0123456789", "MERIDIAN_TEST_UNSERVED_SECRET"
	t.Setenv(env, secret)
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "  - {id: sdk, access_keys: [{id: "+akid+", secret_env: "+env+"}]}\n")
	creds := credentials.NewStaticCredentialsProvider(akid, secret, "")
	rt := bedrockruntime.New(bedrockruntime.Options{Region: "eu-west-1", BaseEndpoint: aws.String(c.url("eu-west-1")), RetryMaxAttempts: 1, Credentials: creds})
	cp := awsbedrock.New(awsbedrock.Options{Region: "eu-west-1", BaseEndpoint: aws.String(c.url("eu-west-1")), RetryMaxAttempts: 1, Credentials: creds})
	ctx := context.Background()
	const arn = "arn:aws:bedrock:eu-west-1:111122223333:async-invoke/abc123"
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"ApplyGuardrail", func() error {
			_, err := rt.ApplyGuardrail(ctx, &bedrockruntime.ApplyGuardrailInput{GuardrailIdentifier: aws.String("g"), GuardrailVersion: aws.String("1"),
				Source: rttypes.GuardrailContentSourceInput, Content: []rttypes.GuardrailContentBlock{&rttypes.GuardrailContentBlockMemberText{Value: rttypes.GuardrailTextBlock{Text: aws.String("hi")}}}})
			return err
		}},
		{"StartAsyncInvoke", func() error {
			_, err := rt.StartAsyncInvoke(ctx, &bedrockruntime.StartAsyncInvokeInput{ModelId: aws.String("eu.demo.chat-small"), ModelInput: rtdoc.NewLazyDocument(map[string]any{"prompt": "hi"}),
				OutputDataConfig: &rttypes.AsyncInvokeOutputDataConfigMemberS3OutputDataConfig{Value: rttypes.AsyncInvokeS3OutputDataConfig{S3Uri: aws.String("s3://bucket/out")}}})
			return err
		}},
		{"ListAsyncInvokes", func() error { _, err := rt.ListAsyncInvokes(ctx, &bedrockruntime.ListAsyncInvokesInput{}); return err }},
		{"GetAsyncInvoke", func() error {
			_, err := rt.GetAsyncInvoke(ctx, &bedrockruntime.GetAsyncInvokeInput{InvocationArn: aws.String(arn)})
			return err
		}},
		{"ListFoundationModels", func() error {
			_, err := cp.ListFoundationModels(ctx, &awsbedrock.ListFoundationModelsInput{})
			return err
		}},
		{"GetFoundationModel", func() error {
			_, err := cp.GetFoundationModel(ctx, &awsbedrock.GetFoundationModelInput{ModelIdentifier: aws.String("anthropic.claude-3-haiku-20240307-v1:0")})
			return err
		}},
		{"ListGuardrails", func() error { _, err := cp.ListGuardrails(ctx, &awsbedrock.ListGuardrailsInput{}); return err }},
		{"TagResource", func() error {
			_, err := cp.TagResource(ctx, &awsbedrock.TagResourceInput{ResourceARN: aws.String(arn), Tags: []cptypes.Tag{{Key: aws.String("team"), Value: aws.String("a")}}})
			return err
		}},
		{"ListTagsForResource", func() error {
			_, err := cp.ListTagsForResource(ctx, &awsbedrock.ListTagsForResourceInput{ResourceARN: aws.String(arn)})
			return err
		}},
		{"UntagResource", func() error {
			_, err := cp.UntagResource(ctx, &awsbedrock.UntagResourceInput{ResourceARN: aws.String(arn), TagKeys: []string{"team"}})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var re *awshttp.ResponseError
			var ae smithy.APIError
			if !errors.As(err, &re) || !errors.As(err, &ae) {
				t.Fatalf("err %v, want an API response error", err)
			}
			if re.HTTPStatusCode() != http.StatusNotFound || ae.ErrorCode() != "UnknownOperationException" || ae.ErrorMessage() == "" {
				t.Errorf("%d %s %q, want 404 UnknownOperationException with a message", re.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage())
			}
			if id := re.ServiceRequestID(); id == "" || re.Response.Header.Get("X-Request-Id") != id {
				t.Errorf("request id %q (x-request-id %q), want one, the same in both", id, re.Response.Header.Get("X-Request-Id"))
			}
		})
	}
}

// TestUnservedPathDialect: a path no route serves is answered in the
// shape of the API its caller speaks, decided by the path and then the
// headers; every URI of bedrock-runtime and the bedrock control plane
// (aws-sdk-go-v2's serializers) is Bedrock's, whatever else it carries.
func TestUnservedPathDialect(t *testing.T) {
	bedrockURIs := []string{
		// bedrock-runtime
		"/guardrail/g/version/1/apply", "/guardrail-checks/invoke", "/model/m/count-tokens", "/model/m/invoke-with-bidirectional-stream",
		"/async-invoke", "/async-invoke/arn%3Aaws%3Abedrock",
		// bedrock
		"/advanced-prompt-optimization-job/batch-delete", "/advanced-prompt-optimization-jobs/j/stop", "/automated-reasoning-policies/p/versions",
		"/create-foundation-model-agreement", "/custom-models/create-custom-model", "/delete-foundation-model-agreement",
		"/enforcedGuardrailsConfiguration/c", "/evaluation-job/j/stop", "/evaluation-jobs/batch-delete", "/foundation-model-availability/m",
		"/foundation-models", "/foundation-models/m", "/guardrails", "/guardrails/g", "/imported-models/m", "/inference-profiles/p/x",
		"/list-foundation-model-agreement-offers/m", "/listTagsForResource", "/logging/modelinvocations", "/marketplace-model/endpoints/e/registration",
		"/model-copy-jobs", "/model-customization/custom-model-deployments", "/model-customization-jobs/j/stop", "/model-import-jobs",
		"/model-invocation-job/j/stop", "/model-invocation-jobs", "/prompt-routers", "/provisioned-model-throughput/p", "/provisioned-model-throughputs",
		"/resource-policy/r", "/tagResource", "/untagResource", "/use-case-for-model-access",
	}
	type tcase struct {
		path   string
		header map[string]string
		want   dialect
	}
	var tests []tcase
	for _, p := range bedrockURIs {
		tests = append(tests, tcase{p, nil, dialectBedrock}, tcase{p, map[string]string{"anthropic-version": "2023-06-01"}, dialectBedrock})
	}
	tests = append(tests,
		tcase{"/v1/unknown", nil, dialectOpenAI},
		tcase{"/v1", nil, dialectOpenAI},
		tcase{"/v1/unknown", map[string]string{"anthropic-version": "2023-06-01"}, dialectAnthropic},
		tcase{"/v1/messages/batches", nil, dialectAnthropic},
		tcase{"/chat/completions", nil, dialectOpenAI},
		tcase{"/models", map[string]string{"Authorization": "Bearer k"}, dialectOpenAI},
		tcase{"/messages", map[string]string{"anthropic-version": "2023-06-01"}, dialectAnthropic},
		tcase{"/chat/completions", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, dialectBedrock},
		tcase{"/meridian/v1/unknown", nil, dialectMeridian},
		tcase{"/ui/x", nil, dialectMeridian},
		tcase{"/healthz", nil, dialectMeridian},
		tcase{"/", nil, dialectBedrock},
		tcase{"/anything", nil, dialectBedrock},
		// Base-URL mistakes: each in its API's shape.
		tcase{"/v1/v1/messages", nil, dialectAnthropic},
		tcase{"/messages", nil, dialectAnthropic},
		tcase{"/v1/model/m/converse", nil, dialectBedrock},
		tcase{"/v1/inference-profiles", nil, dialectBedrock},
		tcase{"/v1/v1/chat/completions", nil, dialectOpenAI},
	)
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodPost, tc.path, nil)
		for k, v := range tc.header {
			r.Header.Set(k, v)
		}
		if got := dialectOf(r); got != tc.want {
			t.Errorf("%s %v: dialect %d, want %d", tc.path, tc.header, got, tc.want)
		}
	}
}

// TestUnservedPathAnswers: the answers of the client listener to paths no
// route serves, per dialect: JSON with the dialect's error shape and
// request id headers, never Go's plain text.
func TestUnservedPathAnswers(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "")
	for _, tc := range []struct {
		method, path string
		header       map[string]string
		status       int
		want         []string // substrings of the body
		wantHeader   string   // a header the answer must carry
	}{
		{"POST", "/guardrail/g/version/1/apply", nil, 404, []string{`"message":"No operation matches POST /guardrail/g/version/1/apply"`}, "X-Amzn-Errortype"},
		{"GET", "/foundation-models", nil, 404, []string{`"message":`}, "X-Amzn-Requestid"},
		{"GET", "/", nil, 404, []string{`"message":`}, "X-Amzn-Errortype"},
		{"POST", "/chat/completions", nil, 404, []string{`"type":"invalid_request_error"`, "end the client's base URL with /v1"}, "X-Request-Id"},
		{"GET", "/v1/unknown", map[string]string{"anthropic-version": "2023-06-01"}, 404, []string{`"type":"error"`, `"not_found_error"`}, "Request-Id"},
		{"GET", "/meridian/v1/unknown", nil, 404, []string{`"code":404`, "docs/operations.md"}, "X-Request-Id"},
		{"POST", "/healthz", nil, 405, []string{`"code":405`, "use GET"}, "Allow"},
		// Base-URL mistakes (@anthropic-ai/sdk with /v1, @ai-sdk/anthropic
		// without, a Bedrock endpoint with /v1, an OpenAI one with /v1/v1).
		{"POST", "/v1/v1/messages", map[string]string{"anthropic-version": "2023-06-01"}, 404, []string{`"not_found_error"`, "drop the /v1 that ends the client's base URL"}, "Request-Id"},
		{"POST", "/messages", nil, 404, []string{`"not_found_error"`, "end the client's base URL with /v1"}, "Request-Id"},
		{"POST", "/v1/model/eu.demo.chat-small/converse", nil, 404, []string{`"message":"No operation matches`, "drop /v1 from the client's endpoint"}, "X-Amzn-Errortype"},
		{"POST", "/v1/v1/chat/completions", nil, 404, []string{`"type":"invalid_request_error"`, "the path repeats /v1"}, "X-Request-Id"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, c.url("eu-west-1")+tc.path, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || !json.Valid(b) {
				t.Fatalf("%d %s %s, want %d JSON", resp.StatusCode, resp.Header.Get("Content-Type"), b, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("body %s lacks %s", b, w)
				}
			}
			if resp.Header.Get(tc.wantHeader) == "" {
				t.Errorf("no %s header in %v", tc.wantHeader, resp.Header)
			}
		})
	}
}

// TestBedrockNotFoundPointsAtListInferenceProfiles: a Bedrock caller naming
// a model or profile the region does not know is pointed at
// ListInferenceProfiles, the Bedrock operation that lists what it can
// call, not at an OpenAI endpoint.
func TestBedrockNotFoundPointsAtListInferenceProfiles(t *testing.T) {
	const akid, secret, env = "AKIDNOTFOUND", "notfound-secret-0123456789", "MERIDIAN_TEST_NOTFOUND_SECRET"
	t.Setenv(env, secret)
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "  - {id: sdk, access_keys: [{id: "+akid+", secret_env: "+env+"}]}\n")
	rt := bedrockruntime.New(bedrockruntime.Options{Region: "eu-west-1", BaseEndpoint: aws.String(c.url("eu-west-1")), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")})
	_, err := rt.Converse(context.Background(), &bedrockruntime.ConverseInput{ModelId: aws.String("eu.no-such-model"),
		Messages: []rttypes.Message{{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: "hi"}}}}})
	var nf *rttypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("err %v, want a ResourceNotFoundException", err)
	}
	if msg := nf.ErrorMessage(); !strings.Contains(msg, "ListInferenceProfiles (GET /inference-profiles)") || strings.Contains(msg, "/v1/models") {
		t.Errorf("message %q: want it to name ListInferenceProfiles (GET /inference-profiles), not /v1/models", msg)
	}
}

// TestOperationsDocListsEveryRoute: every route the client listener
// registers (the front ends', the console's, the node's) is in the
// endpoint table of docs/operations.md as "`METHOD /path`", and every
// route of the ops listener (registerOps) is named in its section, so that
// the page cannot fall behind the code again. Routes are read from the
// source: each Handle/HandleFunc call's pattern, with the package's string
// constants resolved.
func TestOperationsDocListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	table := section(t, text, "## Endpoints (client listener)")
	ops := section(t, text, "## Ops listener")
	wild := regexp.MustCompile(`\{[^}]*\}`)
	norm := func(s string) string { return wild.ReplaceAllString(strings.TrimSuffix(s, "..."), "{}") }
	normTable := norm(table)
	for _, dir := range []string{"../api/openai", "../api/bedrock", "../api/anthropic", "../ui", "."} {
		for _, rt := range routesIn(t, dir) {
			if rt.pattern == "/" {
				continue // registerNotFound's catch-all
			}
			if !strings.Contains(normTable, "`"+norm(rt.pattern)+"`") {
				t.Errorf("%s registers %q (%s): not in docs/operations.md's endpoint table", dir, rt.pattern, rt.fn)
			}
			if rt.fn == "registerOps" {
				_, path, _ := strings.Cut(rt.pattern, " ")
				if !strings.Contains(ops, "`"+path+"`") && !strings.Contains(ops, "`"+rt.pattern+"`") {
					t.Errorf("registerOps serves %q: not named in docs/operations.md's Ops listener section", rt.pattern)
				}
			}
		}
	}
}

// section returns the text of the markdown section that starts with
// heading, up to the next heading of the same level.
func section(t *testing.T, doc, heading string) string {
	t.Helper()
	i := strings.Index(doc, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("docs/operations.md has no %q", heading)
	}
	rest := doc[i+len(heading)+2:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// route is a pattern registered on a mux, and the function registering it.
type route struct{ pattern, fn string }

// routesIn reads the non-test Go files of dir and returns the pattern of
// every mux.Handle/HandleFunc call whose pattern is a string built of
// literals and the package's string constants.
func routesIn(t *testing.T, dir string) []route {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var parsed []*ast.File
	consts := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, af)
		for _, d := range af.Decls {
			if gd, ok := d.(*ast.GenDecl); ok && gd.Tok == token.CONST {
				for _, sp := range gd.Specs {
					vs := sp.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								consts[n.Name], _ = strconv.Unquote(lit.Value)
							}
						}
					}
				}
			}
		}
	}
	var str func(e ast.Expr) (string, bool)
	str = func(e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				s, err := strconv.Unquote(e.Value)
				return s, err == nil
			}
		case *ast.Ident:
			s, ok := consts[e.Name]
			return s, ok
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				a, ok1 := str(e.X)
				b, ok2 := str(e.Y)
				return a + b, ok1 && ok2
			}
		}
		return "", false
	}
	var out []route
	for _, af := range parsed {
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") {
					return true
				}
				if p, ok := str(call.Args[0]); ok {
					out = append(out, route{p, fd.Name.Name})
				} else if _, isIdent := call.Args[0].(*ast.Ident); !isIdent {
					t.Errorf("%s: a %s pattern the test cannot read: %s", fset.Position(call.Pos()), sel.Sel.Name, types.ExprString(call.Args[0]))
				}
				return true
			})
		}
	}
	if len(out) == 0 {
		t.Fatalf("no routes found in %s", dir)
	}
	return out
}
