package mockllm_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// metadataLog collects what Config.ReceivedMetadata reports.
type metadataLog struct {
	mu   sync.Mutex
	seen map[string][]map[string]string // by URL path
}

func (l *metadataLog) record(path string, md map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string][]map[string]string{}
	}
	l.seen[path] = append(l.seen[path], md)
}

func (l *metadataLog) last(path string) (map[string]string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.seen[path]
	if len(s) == 0 {
		return nil, false
	}
	return s[len(s)-1], true
}

// TestBedrockReceivedMetadata: the Bedrock face reports the request
// metadata of each request through Config.ReceivedMetadata, as the
// official client sends it: InvokeModel's in the
// X-Amzn-Bedrock-Request-Metadata header, Converse's in requestMetadata,
// streaming or not; nil for a request without. Metadata Bedrock refuses is
// refused with a ValidationException.
func TestBedrockReceivedMetadata(t *testing.T) {
	t.Parallel()
	var log metadataLog
	_, url := start(t, mockllm.Config{CompletionTokens: 4, ReceivedMetadata: log.record})
	rt := bedrockruntime.New(bedrockruntime.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	const model = "anthropic.claude-sonnet-4-5"
	md := map[string]string{"team": "claims", "ticket": "CLM-42"}
	body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`)
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}}
	tests := []struct {
		name, path string
		md         map[string]string
		call       func(map[string]string) error
	}{
		{"InvokeModel", "/model/" + model + "/invoke", md, func(m map[string]string) error {
			in := &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")}
			if m != nil {
				in.RequestMetadata = aws.String(`{"team":"claims","ticket":"CLM-42"}`)
			}
			_, err := rt.InvokeModel(t.Context(), in)
			return err
		}},
		{"InvokeModelWithResponseStream", "/model/" + model + "/invoke-with-response-stream", md, func(m map[string]string) error {
			in := &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(model), Body: body, ContentType: aws.String("application/json")}
			if m != nil {
				in.RequestMetadata = aws.String(`{"team":"claims","ticket":"CLM-42"}`)
			}
			out, err := rt.InvokeModelWithResponseStream(t.Context(), in)
			if err != nil {
				return err
			}
			for range out.GetStream().Events() {
			}
			return out.GetStream().Err()
		}},
		{"Converse", "/model/" + model + "/converse", md, func(m map[string]string) error {
			_, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: msgs, RequestMetadata: m})
			return err
		}},
		{"ConverseStream", "/model/" + model + "/converse-stream", md, func(m map[string]string) error {
			out, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: msgs, RequestMetadata: m})
			if err != nil {
				return err
			}
			for range out.GetStream().Events() {
			}
			return out.GetStream().Err()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(tc.md); err != nil {
				t.Fatal(err)
			}
			got, ok := log.last(tc.path)
			if d := cmp.Diff(tc.md, got); !ok || d != "" {
				t.Errorf("metadata reported %v (-want +got):\n%s", ok, d)
			}
			if err := tc.call(nil); err != nil {
				t.Fatal(err)
			}
			if got, _ := log.last(tc.path); got != nil {
				t.Errorf("a request without metadata reported %v", got)
			}
		})
	}

	t.Run("refused as Bedrock refuses it", func(t *testing.T) {
		for _, v := range []string{`not json`, `["a"]`, `{"k":1}`, `{"k;":"v"}`, `{"k":"` + strings.Repeat("v", 257) + `"}`} {
			_, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: body,
				ContentType: aws.String("application/json"), RequestMetadata: aws.String(v)})
			var ve *types.ValidationException
			if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "X-Amzn-Bedrock-Request-Metadata") {
				t.Errorf("header %.40s: %v, want a ValidationException naming the header", v, err)
			}
		}
		_, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: msgs,
			RequestMetadata: map[string]string{"bad key!": "v"}})
		var ve *types.ValidationException
		if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "requestMetadata") {
			t.Errorf("Converse with a bad key: %v, want a ValidationException naming requestMetadata", err)
		}
	})
}
