package bedrock_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/responses"
)

// TestResponsesRefusalOverTheLink: a Responses request refused by a
// Converse deployment, in the source region or in the destination of a
// forwarded request, names the member by its Responses path in param and
// message (internal/api/openai renames what the link brings back).
func TestResponsesRefusalOverTheLink(t *testing.T) {
	c := bedrockCluster(t)
	client := c.openaiClient("eu-west-1")
	img := responses.ResponseInputContentParamOfInputImage(responses.ResponseInputImageDetailHigh)
	img.OfInputImage.ImageURL = openai.String("data:image/png;base64,iVBORw0KGgo=")
	input := []responses.ResponseInputItemUnionParam{
		responses.ResponseInputItemParamOfMessage("hi", responses.EasyInputMessageRoleUser),
		responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{img}, responses.EasyInputMessageRoleUser),
	}
	const param = "input[1].content[0].detail"
	for _, sv := range servedBedrock {
		t.Run(sv.name, func(t *testing.T) {
			_, err := client.Responses.New(t.Context(), responses.ResponseNewParams{Model: sv.model, Instructions: openai.String("be brief"),
				Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input}})
			var ae *openai.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err %v, want an *openai.Error", err)
			}
			if ae.StatusCode != 400 || ae.Param != param || !strings.HasPrefix(ae.Message, param+": not supported when the model is served through the Bedrock Converse API") {
				t.Errorf("%d param %q message %q, want 400 naming %s", ae.StatusCode, ae.Param, ae.Message, param)
			}
		})
	}
}
