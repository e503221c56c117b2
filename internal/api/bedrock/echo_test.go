package bedrock_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
)

// TestErrorsDoNotEchoUnboundedInput: an error that quotes what the caller
// sent (a model id, a header value, a field of the body, a SigV4
// component) quotes a bounded prefix with a marker, never the whole input.
func TestErrorsDoNotEchoUnboundedInput(t *testing.T) {
	c := startCluster(t, euRegions[:1], "")
	long := strings.Repeat("x", 64<<10)
	base := c.url("eu-west-1")
	converse := base + "/model/eu.demo.chat-small/converse"
	invoke := base + "/model/eu.demo.chat-small/invoke"
	okConverse := `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`
	tests := []struct {
		name, url, body string
		header          map[string]string
		noKey           bool
	}{
		{name: "model id", url: base + "/model/" + long + "/converse", body: okConverse},
		{name: "model ARN", url: base + "/model/" + url.PathEscape("arn:aws:bedrock:eu-west-1:111122223333:inference-profile/"+long) + "/converse", body: okConverse},
		{name: "content type", url: invoke, body: `{}`, header: map[string]string{"Content-Type": "text/" + long}},
		{name: "converse content block", url: converse, body: `{"messages":[{"role":"user","content":[{"` + long + `":{}}]}]}`},
		{name: "anthropic block type", url: invoke, body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"user","content":[{"type":"` + long + `"}]}]}`},
		{name: "anthropic role", url: invoke, body: `{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,"messages":[{"role":"` + long + `","content":"hi"}]}`},
		{name: "json error", url: converse, body: `{"messages":{"` + long + `":1}}`},
		{name: "sigv4 date", url: converse, body: okConverse, noKey: true, header: map[string]string{
			"Authorization": "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20261125/eu-west-1/bedrock/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0", 64),
			"X-Amz-Date":    long}},
		{name: "sigv4 component", url: converse, body: okConverse, noKey: true, header: map[string]string{
			"Authorization": "AWS4-HMAC-SHA256 " + long}},
		{name: "sigv4 scope", url: converse, body: okConverse, noKey: true, header: map[string]string{
			"Authorization": "AWS4-HMAC-SHA256 Credential=" + testAKID + "/20261125/" + long + "/bedrock/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("0", 64),
			"X-Amz-Date":    "20261125T100000Z"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var header []string
			if !tc.noKey {
				header = append(header, "Authorization", "Bearer "+c.key)
			}
			for k, v := range tc.header {
				header = append(header, k, v)
			}
			resp, b := apitest.Post(t, tc.url, tc.body, header...)
			if resp.StatusCode < 400 || resp.Header.Get("X-Amzn-Errortype") == "" {
				t.Fatalf("status %d type %q, want a Bedrock error", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
			}
			if len(b) > 4<<10 || strings.Contains(string(b), strings.Repeat("x", 1024)) {
				t.Errorf("error body of %d bytes echoes the input: %.300s…", len(b), b)
			}
		})
	}
}
