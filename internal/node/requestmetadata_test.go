package node

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"
	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/mockllm"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// receivedLog is what the simulated model server reported receiving
// (mockllm.Config.Received: bodies; mockllm.Config.ReceivedMetadata: the
// Bedrock request metadata), in order.
type receivedLog[T any] struct {
	mu   sync.Mutex
	seen []received[T]
}

type received[T any] struct {
	path  string
	value T
}

func (l *receivedLog[T]) record(path string, v T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen = append(l.seen, received[T]{path, v})
}

func (l *receivedLog[T]) last() received[T] {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seen) == 0 {
		return received[T]{}
	}
	return l.seen[len(l.seen)-1]
}

// TestRequestMetadataEndToEnd: request metadata sent with the official
// Bedrock client (InvokeModel's X-Amzn-Bedrock-Request-Metadata header,
// Converse's requestMetadata) or the official OpenAI client (chat and
// Responses metadata, translated to requestMetadata), streaming or not, reaches the model server
// behind a bedrock deployment, served in the region called or forwarded
// over the link, and is recorded in the audit event of the source and, for
// a forwarded request, of the destination. eu-west-1 hosts no deployment,
// so eu.demo.chat-small called there always runs in eu-central-1.
func TestRequestMetadataEndToEnd(t *testing.T) {
	const akid, secret, secretEnv = "AKIDMETADATA", "metadata-secret-0123456789", "MERIDIAN_TEST_METADATA_SECRET"
	t.Setenv(secretEnv, secret)
	// The bedrock deployment's own credentials (default chain: environment).
	t.Setenv("AWS_BEARER_TOKEN_BEDROCK", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDDEPLOYMENT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "deployment-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")

	var log receivedLog[map[string]string]
	model := mockllm.New(mockllm.Config{CompletionTokens: 6, ReceivedMetadata: log.record})
	up := httptest.NewServer(model.Handler())
	t.Cleanup(up.Close)

	regions := []string{"eu-west-1", "eu-central-1"}
	lc, err := pki.Provision(t.TempDir(), "", regions...)
	if err != nil {
		t.Fatal(err)
	}
	auditDir := t.TempDir()
	var y strings.Builder
	fmt.Fprintf(&y, "account: \"111122223333\"\naudit: {dir: %q, digest_interval: 1s}\nlink: {ca_file: %q, cert_file: %q, key_file: %q, load_interval: 1s}\ngeographies:\n  eu: {name: EU}\nregions:\n",
		auditDir, lc.CAFile, lc.CertFile, lc.KeyFile)
	clientLns, linkLns := map[string]net.Listener{}, map[string]net.Listener{}
	for i, r := range regions {
		cl, _ := net.Listen("tcp", "127.0.0.1:0")
		ll, _ := net.Listen("tcp", "127.0.0.1:0")
		clientLns[r], linkLns[r] = cl, ll
		fmt.Fprintf(&y, "  - {id: %s, geography: eu, location: {lat: %d, lon: %d}, listen: %q, link: %q}\n", r, 40+i, i, cl.Addr(), ll.Addr())
	}
	fmt.Fprintf(&y, "models:\n  - {id: demo.chat-small}\ndeployments:\n  - {model: demo.chat-small, region: eu-central-1, backend: {type: bedrock, aws_region: eu-central-1, model: anthropic.claude-sonnet-4-5, endpoint: %q, residency_checked: true}}\n", up.URL)
	key, _ := auth.NewKey()
	fmt.Fprintf(&y, "principals:\n  - {id: tester, access_keys: [{id: %s, secret_env: %s}], api_keys: [%q]}\n", akid, secretEnv, auth.HashKey(key))
	cfg, err := topology.Parse([]byte(y.String()), "cluster.yaml")
	if err != nil {
		t.Fatalf("topology: %v\n%s", err, y.String())
	}
	c := &cluster{t: t, cfg: cfg, nodes: map[string]*Node{}, link: lc, auditDir: auditDir}
	for _, r := range regions {
		n, err := New(Options{Config: cfg, Region: r, ClientListener: clientLns[r], LinkListener: linkLns[r],
			Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		c.nodes[r] = n
	}
	t.Cleanup(c.shutdown)

	md := map[string]string{"team": "claims", "ticket": "CLM-42", "cost-center": "eu/7 x"}
	const mdHeader = `{"team":"claims","ticket":"CLM-42","cost-center":"eu/7 x"}`
	profile := aws.String("eu.demo.chat-small")
	invokeBody := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"Where does my data go?"}]}`)
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "Where does my data go?"}}}}
	ops := []struct {
		name, path string
		call       func(t *testing.T, rt *bedrockruntime.Client, oc oa.Client) http.Header
	}{
		{"InvokeModel", "/invoke", func(t *testing.T, rt *bedrockruntime.Client, _ oa.Client) http.Header {
			out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: profile, Body: invokeBody,
				ContentType: aws.String("application/json"), RequestMetadata: aws.String(mdHeader)})
			if err != nil {
				t.Fatal(err)
			}
			return rawResponseHeader(out.ResultMetadata)
		}},
		{"InvokeModelWithResponseStream", "/invoke-with-response-stream", func(t *testing.T, rt *bedrockruntime.Client, _ oa.Client) http.Header {
			out, err := rt.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: profile, Body: invokeBody,
				ContentType: aws.String("application/json"), RequestMetadata: aws.String(mdHeader)})
			if err != nil {
				t.Fatal(err)
			}
			chunks := 0
			for ev := range out.GetStream().Events() {
				if _, ok := ev.(*types.ResponseStreamMemberChunk); ok {
					chunks++
				}
			}
			if err := out.GetStream().Err(); err != nil || chunks == 0 {
				t.Fatalf("stream: %d chunks, %v", chunks, err)
			}
			return rawResponseHeader(out.ResultMetadata)
		}},
		{"Converse", "/converse", func(t *testing.T, rt *bedrockruntime.Client, _ oa.Client) http.Header {
			out, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: profile, Messages: msgs, RequestMetadata: md})
			if err != nil {
				t.Fatal(err)
			}
			return rawResponseHeader(out.ResultMetadata)
		}},
		{"ConverseStream", "/converse-stream", func(t *testing.T, rt *bedrockruntime.Client, _ oa.Client) http.Header {
			out, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: profile, Messages: msgs, RequestMetadata: md})
			if err != nil {
				t.Fatal(err)
			}
			stopped := false
			for ev := range out.GetStream().Events() {
				if _, ok := ev.(*types.ConverseStreamOutputMemberMessageStop); ok {
					stopped = true
				}
			}
			if err := out.GetStream().Err(); err != nil || !stopped {
				t.Fatalf("stream: stopped %v, %v", stopped, err)
			}
			return rawResponseHeader(out.ResultMetadata)
		}},
		// OpenAI's metadata, translated to Converse requestMetadata for
		// the bedrock deployment.
		{"OpenAI chat", "/converse", func(t *testing.T, _ *bedrockruntime.Client, oc oa.Client) http.Header {
			var hr *http.Response
			if _, err := oc.Chat.Completions.New(t.Context(), oa.ChatCompletionNewParams{Model: *profile, Metadata: md,
				Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Where does my data go?")}}, option.WithResponseInto(&hr)); err != nil {
				t.Fatal(err)
			}
			return hr.Header
		}},
		{"OpenAI chat streaming", "/converse-stream", func(t *testing.T, _ *bedrockruntime.Client, oc oa.Client) http.Header {
			var hr *http.Response
			st := oc.Chat.Completions.NewStreaming(t.Context(), oa.ChatCompletionNewParams{Model: *profile, Metadata: md,
				Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("Where does my data go?")}}, option.WithResponseInto(&hr))
			chunks := 0
			for st.Next() {
				chunks++
			}
			if err := st.Err(); err != nil || chunks == 0 {
				t.Fatalf("stream: %d chunks, %v", chunks, err)
			}
			return hr.Header
		}},
		// A Responses request's metadata, beside the Chat Completions body
		// it is translated to: across the link in its own header.
		{"OpenAI Responses", "/converse", func(t *testing.T, _ *bedrockruntime.Client, oc oa.Client) http.Header {
			var hr *http.Response
			if _, err := oc.Responses.New(t.Context(), responses.ResponseNewParams{Model: *profile, Metadata: md,
				Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("Where does my data go?")}}, option.WithResponseInto(&hr)); err != nil {
				t.Fatal(err)
			}
			return hr.Header
		}},
		{"OpenAI Responses streaming", "/converse-stream", func(t *testing.T, _ *bedrockruntime.Client, oc oa.Client) http.Header {
			var hr *http.Response
			st := oc.Responses.NewStreaming(t.Context(), responses.ResponseNewParams{Model: *profile, Metadata: md,
				Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("Where does my data go?")}}, option.WithResponseInto(&hr))
			completed := false
			for st.Next() {
				completed = completed || st.Current().Type == "response.completed"
			}
			if err := st.Err(); err != nil || !completed {
				t.Fatalf("stream: completed %v, %v", completed, err)
			}
			return hr.Header
		}},
	}
	type sent struct {
		id, source string
		forwarded  bool
	}
	var reqs []sent
	for _, where := range []struct {
		name, source string
		forwarded    bool
	}{{"served locally", "eu-central-1", false}, {"forwarded", "eu-west-1", true}} {
		rt := bedrockruntime.New(bedrockruntime.Options{Region: where.source, BaseEndpoint: aws.String(c.url(where.source)), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")})
		oc := oa.NewClient(option.WithBaseURL(c.url(where.source)+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
		for _, op := range ops {
			t.Run(where.name+"/"+op.name, func(t *testing.T) {
				h := op.call(t, rt, oc)
				if got := h.Get("X-Meridian-Inference-Region"); got != "eu-central-1" {
					t.Fatalf("inference region %q, want eu-central-1", got)
				}
				id := h.Get("X-Meridian-Request-Id")
				if id == "" {
					t.Fatal("no request id")
				}
				reqs = append(reqs, sent{id, where.source, where.forwarded})
				got := log.last()
				if !strings.HasSuffix(got.path, op.path) {
					t.Fatalf("the model's last request was %s, want one to %s", got.path, op.path)
				}
				if d := cmp.Diff(md, got.value); d != "" {
					t.Errorf("metadata the model received (-want +got):\n%s", d)
				}
			})
		}
	}
	if t.Failed() {
		return
	}

	// Every event is flushed when the nodes shut down.
	c.shutdown()
	bySide := map[audit.Side]map[string]*audit.Event{audit.SideSource: {}, audit.SideDestination: {}}
	if err := audit.Query(auditDir, audit.Filter{}, func(e *audit.Event) error {
		bySide[e.Side][e.EventID] = e
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		src := bySide[audit.SideSource][r.id]
		if src == nil || src.RecordingRegion != r.source {
			t.Errorf("request %s: source event %+v", r.id, src)
			continue
		}
		if d := cmp.Diff(md, src.RequestMetadata); d != "" {
			t.Errorf("request %s (%s): source event's metadata (-want +got):\n%s", r.id, src.EventName, d)
		}
		dst := bySide[audit.SideDestination][r.id]
		switch {
		case !r.forwarded && dst != nil:
			t.Errorf("request %s served locally has a destination event", r.id)
		case r.forwarded && (dst == nil || dst.RecordingRegion != "eu-central-1"):
			t.Errorf("request %s forwarded: destination event %+v", r.id, dst)
		case r.forwarded:
			if d := cmp.Diff(md, dst.RequestMetadata); d != "" {
				t.Errorf("request %s (%s): destination event's metadata (-want +got):\n%s", r.id, dst.EventName, d)
			}
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
