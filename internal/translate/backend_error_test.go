package translate_test

import (
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/translate"
)

func TestBackendErrorRendering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		backend  translate.Dialect
		status   int
		body     string
		client   translate.Dialect
		wantBody string
		wantType string
	}{
		{"anthropic overloaded to openai", translate.Anthropic, 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
			translate.OpenAI, `{"error":{"message":"Overloaded","type":"server_error","param":null,"code":null}}`, "server_error"},
		{"converse throttled to anthropic", translate.Converse, 429, `{"message":"Too many requests, please wait before trying again."}`,
			translate.Anthropic, `{"type":"error","error":{"type":"rate_limit_error","message":"Too many requests, please wait before trying again."}}`, "rate_limit_error"},
		{"openai invalid to converse", translate.OpenAI, 400, `{"error":{"message":"Invalid value for 'n'","type":"invalid_request_error","param":"n","code":null}}`,
			translate.Converse, `{"message":"Invalid value for 'n'"}`, "ValidationException"},
		{"unparsable body", translate.OpenAI, 502, `<html>bad gateway</html>`,
			translate.Anthropic, `{"type":"error","error":{"type":"api_error","message":"Bad Gateway"}}`, "api_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := translate.ParseBackendError(tc.backend, tc.status, []byte(tc.body))
			body, typ := translate.RenderError(tc.client, e)
			if eq, _ := jsonx.Equivalent([]byte(tc.wantBody), body); !eq || typ != tc.wantType {
				t.Errorf("RenderError = %s, %s; want %s, %s", body, typ, tc.wantBody, tc.wantType)
			}
		})
	}
	long := `{"message":"` + strings.Repeat("é", 2000) + `"}`
	if e := translate.ParseBackendError(translate.Converse, 400, []byte(long)); len(e.Message) > 1100 || !strings.HasSuffix(e.Message, "é...") {
		t.Errorf("long message not bounded at a rune boundary: %d bytes", len(e.Message))
	}
	if got := translate.StreamErrorType(translate.Converse, &translate.StreamError{Type: "overloaded_error"}); got != "serviceUnavailableException" {
		t.Errorf("StreamErrorType(converse, overloaded) = %s", got)
	}
}
