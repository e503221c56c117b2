package bedrock_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// withMethod sends an operation with another HTTP method (before it is
// signed), as a client of a path asked with the wrong method does.
func withMethod(m string) func(*bedrockruntime.Options) {
	return func(o *bedrockruntime.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Build.Add(middleware.BuildMiddlewareFunc("method", func(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok {
					req.Method = m
				}
				return next.HandleBuild(ctx, in)
			}), middleware.After)
		})
	}
}

// TestUnknownOperationCarriesRequestID: with the official SDK, an
// operation the node does not serve (ApplyGuardrail, 404) and a served path
// asked with another method (GET on converse, 405) are answered as
// Bedrock answers an unknown operation, UnknownOperationException, and,
// like every Bedrock answer, with a request id the SDK's error carries
// (X-Amzn-RequestId, equal to x-request-id).
func TestUnknownOperationCarriesRequestID(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "")
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}}
	tests := []struct {
		name   string
		call   func(*bedrockruntime.Client) error
		status int
		allow  string
	}{
		{"ApplyGuardrail", func(rt *bedrockruntime.Client) error {
			_, err := rt.ApplyGuardrail(t.Context(), &bedrockruntime.ApplyGuardrailInput{GuardrailIdentifier: aws.String("g"), GuardrailVersion: aws.String("1"),
				Source: types.GuardrailContentSourceInput, Content: []types.GuardrailContentBlock{&types.GuardrailContentBlockMemberText{Value: types.GuardrailTextBlock{Text: aws.String("hi")}}}})
			return err
		}, 404, ""},
		{"GET converse", func(rt *bedrockruntime.Client) error {
			_, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: msgs}, withMethod("GET"))
			return err
		}, 405, "POST"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(c.runtimeClient("eu-west-1", func(o *bedrockruntime.Options) { o.RetryMaxAttempts = 1 }))
			var re *awshttp.ResponseError
			var ae smithy.APIError
			if !errors.As(err, &re) || !errors.As(err, &ae) {
				t.Fatalf("err %v, want an API response error", err)
			}
			if re.HTTPStatusCode() != tc.status || ae.ErrorCode() != "UnknownOperationException" || ae.ErrorMessage() == "" {
				t.Errorf("%d %s %q, want %d UnknownOperationException with a message", re.HTTPStatusCode(), ae.ErrorCode(), ae.ErrorMessage(), tc.status)
			}
			id := re.ServiceRequestID()
			if id == "" || re.Response.Header.Get("X-Request-Id") != id {
				t.Errorf("request id %q (x-request-id %q), want one, the same in both", id, re.Response.Header.Get("X-Request-Id"))
			}
			if got := re.Response.Header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
		})
	}
}

// TestEndpointWithV1: a Bedrock client whose endpoint ends with /v1 gets
// Bedrock's UnknownOperationException (which its SDK types) with a message
// telling it to drop /v1, not an OpenAI-shaped 404.
func TestEndpointWithV1(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "")
	rt := c.runtimeClient("eu-west-1", func(o *bedrockruntime.Options) { o.BaseEndpoint = aws.String(c.url("eu-west-1") + "/v1") })
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "hi"}}}}
	_, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: msgs})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnknownOperationException" || !strings.Contains(ae.ErrorMessage(), "drop /v1") {
		t.Fatalf("Converse at <endpoint>/v1: %v, want UnknownOperationException telling to drop /v1", err)
	}
}
