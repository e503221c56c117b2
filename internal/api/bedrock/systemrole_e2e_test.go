package bedrock_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
)

// sentBodies records the bodies an SDK client sends.
type sentBodies struct {
	mu   sync.Mutex
	last []byte
}

func (s *sentBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.last = b
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return http.DefaultClient.Do(r)
}

func (s *sentBodies) take() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.last
	s.last = nil
	return b
}

// TestConverseSystemRoleMessages: a Converse conversation with a message of
// role system (a toolAddition block, bedrockruntime's
// ConversationRoleSystem) sent with the official client reaches a bedrock
// deployment byte for byte, streamed or not, locally and forwarded over
// the link; toward an OpenAI deployment, which cannot express it, it is
// refused with the translator's ValidationException naming the block, and
// nothing reaches the upstream.
func TestConverseSystemRoleMessages(t *testing.T) {
	var log upstreamLog
	up := log.server(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDDEPLOYMENT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "deployment-secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	deployments := fmt.Sprintf("models:\n  - {id: demo.chat-small}\n  - {id: demo.oa}\ndeployments:\n"+
		"  - {model: demo.chat-small, region: eu-central-1, backend: {type: bedrock, aws_region: eu-central-1, model: anthropic.claude-sonnet-4-5, endpoint: %q, residency_checked: true}}\n"+
		"  - {model: demo.oa, region: eu-central-1, backend: {type: openai, url: %q, model: chat-small}}\n", up.URL, up.URL+"/v1")
	c := bootCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}}, deployments, "", "")

	schema := document.NewLazyDocument(map[string]any{"type": "object"})
	tools := &rttypes.ToolConfiguration{Tools: []rttypes.Tool{&rttypes.ToolMemberToolSpec{Value: rttypes.ToolSpecification{
		Name: aws.String("get"), InputSchema: &rttypes.ToolInputSchemaMemberJson{Value: schema}}}}}
	msgs := []rttypes.Message{
		{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: "hi"}}},
		{Role: rttypes.ConversationRoleSystem, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberToolAddition{
			Value: rttypes.ToolAdditionBlock{Tool: &rttypes.ToolReference{Name: aws.String("get")}}}}},
		{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{&rttypes.ContentBlockMemberText{Value: "go"}}},
	}
	call := func(t *testing.T, rt *bedrockruntime.Client, model string, stream bool) error {
		if !stream {
			_, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: msgs, ToolConfig: tools})
			return err
		}
		out, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: msgs, ToolConfig: tools})
		if err != nil {
			return err
		}
		n := 0
		for range out.GetStream().Events() {
			n++
		}
		if err := out.GetStream().Err(); err != nil || n == 0 {
			return fmt.Errorf("stream: %d events, %v", n, err)
		}
		return nil
	}
	for _, where := range []struct{ name, region string }{{"local", "eu-central-1"}, {"forwarded", "eu-west-1"}} {
		var sent sentBodies
		rt := c.runtimeClient(where.region, func(o *bedrockruntime.Options) { o.HTTPClient = &sent })
		for _, stream := range []bool{false, true} {
			op := "/converse"
			if stream {
				op = "/converse-stream"
			}
			t.Run(fmt.Sprintf("%s/pass-through%s", where.name, op), func(t *testing.T) {
				log.take()
				if err := call(t, rt, "eu.demo.chat-small", stream); err != nil {
					t.Fatal(err)
				}
				body, seen := sent.take(), log.take()
				if len(seen) != 1 || !strings.HasSuffix(seen[0].path, op) {
					t.Fatalf("Bedrock received %d requests (%v), want one to %s", len(seen), seen, op)
				}
				if !bytes.Contains(body, []byte(`"role":"system"`)) || !bytes.Equal(seen[0].body, body) {
					t.Errorf("Bedrock received\n%s\nthe client sent\n%s", seen[0].body, body)
				}
			})
			t.Run(fmt.Sprintf("%s/translated%s", where.name, op), func(t *testing.T) {
				log.take()
				err := call(t, rt, "eu.demo.oa", stream)
				var ve *rttypes.ValidationException
				if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "messages[1].content[0].toolAddition: not supported") {
					t.Fatalf("error %v, want a ValidationException naming messages[1].content[0].toolAddition", err)
				}
				if seen := log.take(); len(seen) != 0 {
					t.Errorf("the upstream received %d requests of a refused one", len(seen))
				}
			})
		}
	}
}
