package bedrock_test

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	awshttp "github.com/aws/smithy-go/transport/http"
)

// TestDefaultRequestSizeCarriesLargestImage: with server.max_request_bytes
// not written, a Converse request carrying an image of Bedrock's largest
// size (3.75 MB, 5 MB once base64 in JSON; the former 4 MiB default
// refused it) is served through the official SDK, in the source region and
// forwarded over the link to another region.
func TestDefaultRequestSizeCarriesLargestImage(t *testing.T) {
	c := wholeCluster(t)
	rt := c.runtimeClient("eu-west-1")
	img := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0x5a}, 3_750_000-8)...)
	for _, sv := range served {
		t.Run(sv.name, func(t *testing.T) {
			out, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(sv.model),
				Messages: []rttypes.Message{{Role: rttypes.ConversationRoleUser, Content: []rttypes.ContentBlock{
					&rttypes.ContentBlockMemberText{Value: "what is in this picture?"},
					&rttypes.ContentBlockMemberImage{Value: rttypes.ImageBlock{Format: rttypes.ImageFormatPng, Source: &rttypes.ImageSourceMemberBytes{Value: img}}},
				}}}})
			if err != nil {
				t.Fatalf("Converse with a 3.75 MB image: %v", err)
			}
			raw, _ := middleware.GetRawResponse(out.ResultMetadata).(*awshttp.Response)
			if raw == nil || raw.Header.Get("X-Meridian-Inference-Region") != sv.region {
				t.Errorf("served in %v, want %s", raw, sv.region)
			}
		})
	}
}
