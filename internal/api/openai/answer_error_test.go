package openai_test

import (
	"errors"
	"strings"
	"testing"

	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/api/openai"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
)

// TestUntranslatableAnswer: a Converse answer (Claude or Nova on Bedrock)
// holding a block OpenAI's APIs cannot express (citationsContent) is the
// deployment's failure, not the caller's: with the official openai-go
// client, Chat Completions and the Responses API alike answer a 502
// server_error, with no param (a 400 invalid_request_error whose param
// pointed into the answer was the Responses API's), naming the
// deployment's API and the client's.
func TestUntranslatableAnswer(t *testing.T) {
	t.Parallel()
	url, _ := backendtest.Answer(t, `{"output":{"message":{"content":[{"citationsContent":{"content":[{"text":"Paris is the capital."}],"citations":[{"title":"doc","sourceContent":[{"text":"Paris"}],"location":{"web":{"url":"https://a"}}}]}}],"role":"assistant"}},"stopReason":"end_turn","usage":{"inputTokens":5,"outputTokens":8,"totalTokens":13},"metrics":{"latencyMs":1}}`)
	const key = "sk-test-openai-answer-error"
	srv := apitest.Serve(t, openai.New(gatewaytest.OneRegion(t, key, backendtest.Bedrock(t, "amazon.nova-pro-v1:0", url)), openai.Options{}))
	client := oa.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	tests := []struct {
		name   string
		call   func() error
		client string
	}{
		{"chat completions", func() error {
			_, err := client.Chat.Completions.New(t.Context(), oa.ChatCompletionNewParams{Model: "eu.m", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("hi")}})
			return err
		}, "OpenAI Chat Completions API"},
		{"responses", func() error {
			_, err := client.Responses.New(t.Context(), responses.ResponseNewParams{Model: "eu.m", Input: responses.ResponseNewParamsInputUnion{OfString: oa.String("hi")}})
			return err
		}, "OpenAI Responses API"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var ae *oa.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want *openai.Error", err, err)
			}
			// The same request would fail the same way: the SDK (which
			// retries a 5xx) is told not to retry it.
			if got := ae.Response.Header.Get("X-Should-Retry"); got != "false" {
				t.Errorf("x-should-retry %q, want false", got)
			}
			if ae.StatusCode != 502 || ae.Type != "server_error" || ae.Param != "" {
				t.Fatalf("error %d %s param %q: %s, want a 502 server_error without param", ae.StatusCode, ae.Type, ae.Param, ae.RawJSON())
			}
			for _, n := range []string{"Bedrock Converse API", tc.client, "output.message.content[0].citationsContent"} {
				if !strings.Contains(ae.Message, n) {
					t.Errorf("message %q does not name %s", ae.Message, n)
				}
			}
		})
	}
}
