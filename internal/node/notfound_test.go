package node

import (
	"context"
	"errors"
	"net/http"
	"testing"

	oa "github.com/openai/openai-go/v3"
)

// TestOpenAINotFoundRequestID: an unknown /v1 path and a served one asked
// with the wrong method are answered in OpenAI's error shape with an
// x-request-id equal to x-meridian-request-id, which openai-go's error
// carries (its Response), as every other OpenAI-shaped answer does.
func TestOpenAINotFoundRequestID(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}}, "")
	cl := c.client("eu-west-1")
	for _, tc := range []struct {
		name, method, path string
		status             int
	}{
		{"unknown path", http.MethodGet, "unknown", http.StatusNotFound},
		{"unknown path under a served one", http.MethodPost, "chat/completions/x", http.StatusNotFound},
		{"wrong method", http.MethodDelete, "chat/completions", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cl.Execute(context.Background(), tc.method, tc.path, nil, nil)
			var apiErr *oa.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("err = %v, want an *openai.Error", err)
			}
			if apiErr.StatusCode != tc.status || apiErr.Type != "invalid_request_error" {
				t.Errorf("status %d type %q, want %d invalid_request_error", apiErr.StatusCode, apiErr.Type, tc.status)
			}
			id, mid := apiErr.Response.Header.Get("X-Request-Id"), apiErr.Response.Header.Get("X-Meridian-Request-Id")
			if id == "" || id != mid {
				t.Errorf("x-request-id %q, x-meridian-request-id %q: want equal and set", id, mid)
			}
		})
	}
}
