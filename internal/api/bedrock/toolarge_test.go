package bedrock_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
)

// TestBodyTooLargeNamesTheSetting: a body over the node's
// server.max_request_bytes gets a 413 in each API's error shape whose
// message says the limit and the setting that raises it: OpenAI's (chat
// completions and Responses, code request_too_large), Anthropic's
// (request_too_large) and Bedrock's (ValidationException, through the
// official SDK).
func TestBodyTooLargeNamesTheSetting(t *testing.T) {
	c := startClusterWith(t, []regionSpec{{"eu-west-1", "eu"}}, "", ", max_request_bytes: 4096")
	const want = "request body exceeds 4096 bytes (the node's server.max_request_bytes)"
	big := strings.Repeat("y", 5000)
	post := func(t *testing.T, path, body string, hdr map[string]string) (int, []byte) {
		req, err := http.NewRequestWithContext(t.Context(), "POST", c.url("eu-west-1")+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	type openaiShape struct {
		Error struct{ Message, Type, Code string } `json:"error"`
	}
	type anthropicShape struct {
		Type  string                         `json:"type"`
		Error struct{ Type, Message string } `json:"error"`
	}
	bearer := map[string]string{"Authorization": "Bearer " + c.key}
	tests := []struct {
		name, shape string
		call        func(t *testing.T) (status int, shape, message string)
	}{
		{"OpenAI chat completions", "invalid_request_error/request_too_large", func(t *testing.T) (int, string, string) {
			st, b := post(t, "/v1/chat/completions", `{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"`+big+`"}]}`, bearer)
			var e openaiShape
			json.Unmarshal(b, &e)
			return st, e.Error.Type + "/" + e.Error.Code, e.Error.Message
		}},
		{"OpenAI Responses", "invalid_request_error/request_too_large", func(t *testing.T) (int, string, string) {
			st, b := post(t, "/v1/responses", `{"model":"eu.demo.chat-small","input":"`+big+`"}`, bearer)
			var e openaiShape
			json.Unmarshal(b, &e)
			return st, e.Error.Type + "/" + e.Error.Code, e.Error.Message
		}},
		{"Anthropic Messages", "error/request_too_large", func(t *testing.T) (int, string, string) {
			st, b := post(t, "/v1/messages", `{"model":"eu.demo.chat-small","max_tokens":16,"messages":[{"role":"user","content":"`+big+`"}]}`, map[string]string{"x-api-key": c.key})
			var e anthropicShape
			json.Unmarshal(b, &e)
			return st, e.Type + "/" + e.Error.Type, e.Error.Message
		}},
		{"Bedrock Converse", "ValidationException", func(t *testing.T) (int, string, string) {
			_, err := c.runtimeClient("eu-west-1", func(o *bedrockruntime.Options) { o.RetryMaxAttempts = 1 }).Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"),
				Messages: []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: big}}}}})
			var re *awshttp.ResponseError
			var ae smithy.APIError
			if !errors.As(err, &re) || !errors.As(err, &ae) {
				t.Fatalf("err %v, want an API error", err)
			}
			return re.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage()
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, shape, msg := tc.call(t)
			if st != 413 || shape != tc.shape || msg != want {
				t.Errorf("%d %s %q, want 413 %s %q", st, shape, msg, tc.shape, want)
			}
		})
	}
}
