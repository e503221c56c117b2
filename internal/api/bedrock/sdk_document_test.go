package bedrock_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
)

// TestConverseDocumentToOpenAI: Chat Completions takes PDF files only, so
// a Converse document of another format (txt, here) sent to an OpenAI
// chat deployment is refused with a ValidationException naming its
// format, as an Anthropic text document is on /v1/messages, rather than
// sent as a file part the upstream refuses; a PDF is carried. Local and
// forwarded, streamed and not.
func TestConverseDocumentToOpenAI(t *testing.T) {
	c := dialectCluster(t, `models:
  - {id: poa}
  - {id: poafar}
deployments:
  - {model: poa, region: eu-west-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
  - {model: poafar, region: eu-central-1, backend: {type: mock, ttft: 1ms, tokens_per_second: 5000}}
`)
	rt := c.runtimeClient("eu-west-1")
	doc := func(format types.DocumentFormat) []types.Message {
		return []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{
			&types.ContentBlockMemberDocument{Value: types.DocumentBlock{Format: format, Name: aws.String("notes"), Source: &types.DocumentSourceMemberBytes{Value: []byte("%PDF-1.4 Paris")}}},
			&types.ContentBlockMemberText{Value: "Summarise"},
		}}}
	}
	for _, model := range []string{"eu.poa", "eu.poafar"} {
		for _, stream := range []bool{false, true} {
			name := model
			if stream {
				name += "/stream"
			}
			t.Run(name, func(t *testing.T) {
				call := func(format types.DocumentFormat) error {
					if !stream {
						_, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: doc(format)})
						return err
					}
					out, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: doc(format)})
					if err != nil {
						return err
					}
					es := out.GetStream()
					defer es.Close()
					for range es.Events() {
					}
					return es.Err()
				}
				if err := call(types.DocumentFormatPdf); err != nil {
					t.Fatalf("pdf document: %v", err)
				}
				err := call(types.DocumentFormatTxt)
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationException" || !strings.Contains(ae.ErrorMessage(), "messages[0].content[0].document.format") {
					t.Fatalf("txt document: %v, want a ValidationException naming messages[0].content[0].document.format", err)
				}
			})
		}
	}
}
