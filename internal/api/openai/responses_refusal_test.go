package openai

import (
	"cmp"
	"errors"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
)

// TestResponsesRefusalsNameResponsesPaths: with the official openai-go
// client, a Responses request refused on a Converse deployment (after its
// translation to Chat Completions at the door and from there to Converse)
// or by the translation itself gets a 400 in OpenAI's shape whose param and
// message name the member as the Responses request wrote it, never a Chat
// Completions path; the message says what serves the request truly: the
// Converse API where the deployment refused it, Meridian's translation of
// the Responses API to Chat Completions where that refused it. The model
// is not called.
func TestResponsesRefusalsNameResponsesPaths(t *testing.T) {
	t.Parallel()
	b, got := converseUpstream(t)
	srv := newServerWith(t, b)
	client := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(testKey), option.WithMaxRetries(0))
	image := func(url string, detail responses.ResponseInputImageDetail) responses.ResponseInputItemUnionParam {
		img := responses.ResponseInputContentParamOfInputImage(detail)
		img.OfInputImage.ImageURL = openai.String(url)
		return responses.ResponseInputItemParamOfMessage(responses.ResponseInputMessageContentListParam{
			responses.ResponseInputContentParamOfInputText("look"), img}, responses.EasyInputMessageRoleUser)
	}
	text := responses.ResponseInputItemParamOfMessage("hi", responses.EasyInputMessageRoleUser)
	const png = "data:image/png;base64,iVBORw0KGgo="
	tests := []struct {
		name   string
		input  []responses.ResponseInputItemUnionParam
		params func(*responses.ResponseNewParams)
		opts   []option.RequestOption
		param  string
		msg    string // the message's text after "param: "
		code   string // "" for unsupported_field (a value the client got wrong: invalid_value)
	}{
		{name: "text.verbosity on Converse", input: []responses.ResponseInputItemUnionParam{text},
			params: func(p *responses.ResponseNewParams) {
				p.Text = responses.ResponseTextConfigParam{Verbosity: responses.ResponseTextConfigVerbosityLow}
			},
			param: "text.verbosity", msg: "not supported when the model is served through the Bedrock Converse API"},
		{name: "image detail on Converse", input: []responses.ResponseInputItemUnionParam{image(png, responses.ResponseInputImageDetailHigh)},
			param: "input[0].content[1].detail", msg: "not supported when the model is served through the Bedrock Converse API"},
		{name: "image URL on Converse, after instructions and a turn",
			input: []responses.ResponseInputItemUnionParam{text, image("https://example.com/a.png", responses.ResponseInputImageDetailAuto)},
			params: func(p *responses.ResponseNewParams) {
				p.Instructions = openai.String("be brief")
			},
			param: "input[1].content[1].image_url", msg: "not supported when the model is served through the Bedrock Converse API (only data: URLs"},
		{name: "frequency_penalty, not a Responses member", input: []responses.ResponseInputItemUnionParam{text},
			opts:  []option.RequestOption{option.WithJSONSet("frequency_penalty", 0.5)},
			param: "frequency_penalty", msg: "not supported by Meridian's Responses API (unknown member), which translates each request to Chat Completions"},
		{name: "a message item's name", input: []responses.ResponseInputItemUnionParam{text},
			opts:  []option.RequestOption{option.WithJSONSet("input.0.name", "bob")},
			param: "input[0].name", msg: "not supported by Meridian's Responses API (not a member of message items), which translates"},
		{name: "carried reasoning that does not decode", input: []responses.ResponseInputItemUnionParam{text},
			opts: []option.RequestOption{option.WithJSONSet("input", []any{map[string]any{"role": "user", "content": "hi"},
				map[string]any{"type": "reasoning", "summary": []any{}, "encrypted_content": "meridian.r1.!!"}})},
			param: "input[1].encrypted_content", msg: "invalid value (begins with meridian.r1. but is not reasoning Meridian returned", code: "invalid_value"},
		{name: "previous_response_id", input: []responses.ResponseInputItemUnionParam{text},
			params: func(p *responses.ResponseNewParams) { p.PreviousResponseID = openai.String("resp_1") },
			param:  "previous_response_id", msg: "not supported by Meridian's Responses API (Meridian does not store responses"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := responses.ResponseNewParams{Model: "eu.m", Input: responses.ResponseNewParamsInputUnion{OfInputItemList: tc.input}}
			if tc.params != nil {
				tc.params(&p)
			}
			_, err := client.Responses.New(t.Context(), p, tc.opts...)
			var ae *openai.Error
			if !errors.As(err, &ae) {
				t.Fatalf("err %v, want an *openai.Error", err)
			}
			code := cmp.Or(tc.code, "unsupported_field")
			if ae.StatusCode != 400 || ae.Type != "invalid_request_error" || ae.Code != code || ae.Param != tc.param {
				t.Errorf("%d %s %s param %q, want 400 invalid_request_error %s param %q", ae.StatusCode, ae.Type, ae.Code, ae.Param, code, tc.param)
			}
			if want := tc.param + ": " + tc.msg; !strings.HasPrefix(ae.Message, want) {
				t.Errorf("message %q, want it to begin %q", ae.Message, want)
			}
			for _, chat := range []string{"messages", "image_url.detail", "image_url.url", "Chat Completions API"} {
				if strings.Contains(ae.Message, chat) {
					t.Errorf("message %q names %q, of Chat Completions", ae.Message, chat)
				}
			}
			apitest.Withheld(t, []byte(ae.RawJSON()), got)
		})
	}
}
