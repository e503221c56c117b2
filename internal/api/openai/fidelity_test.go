package openai

import (
	"cmp"
	"encoding/json"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
)

// converseUpstream serves the simulated model's Bedrock face and returns a
// Bedrock deployment of it; every request body the model receives goes to
// got.
func converseUpstream(t *testing.T) (*backend.Bedrock, <-chan []byte) {
	t.Helper()
	url, got := backendtest.Model(t)
	return backendtest.Bedrock(t, "amazon.nova-pro-v1:0", url), got
}

// TestTranslatedMembersReachTheModelOrAreRefused: through the real front
// end and gateway, a Chat Completions body served by a Converse deployment
// (the simulated model's Bedrock face) either reaches the model with each
// member in its Converse form, or is refused with a 400 in OpenAI's error
// shape whose param names the member, before any call to the model, in a
// bounded body.
func TestTranslatedMembersReachTheModelOrAreRefused(t *testing.T) {
	t.Parallel()
	b, got := converseUpstream(t)
	srv := newServerWith(t, b)
	tests := []struct {
		name  string
		body  string
		param string   // the refused member, or "" when served
		code  string   // the refusal's code, if not unsupported_field
		want  []string // substrings of the body the upstream receives
	}{
		{name: "structured output, metadata and stop carried",
			body: `{"model":"eu.m",` + hello + `,"metadata":{"team":"a"},"stop":"END","response_format":{"type":"json_schema","json_schema":{"name":"person","description":"A person","schema":{"type":"object"}}}}`,
			want: []string{`"requestMetadata":{"team":"a"}`, `"stopSequences":["END"]`, `"name":"person"`, `"description":"A person"`}},
		{name: "two different token limits", body: `{"model":"eu.m",` + hello + `,"max_tokens":4000,"max_completion_tokens":100}`, param: "max_tokens"},
		{name: "logit_bias", body: `{"model":"eu.m",` + hello + `,"logit_bias":{"50256":-100}}`, param: "logit_bias"},
		{name: "a huge number where an integer goes", body: `{"model":"eu.m",` + hello + `,"seed":1` + strings.Repeat("0", 1<<16) + `}`, param: "seed", code: "invalid_request"},
		{name: "a long unknown member", body: `{"model":"eu.m",` + hello + `,"` + strings.Repeat("k", 1<<16) + `":1}`,
			param: strings.Repeat("k", 128)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := post(t, srv, testKey, tc.body)
			if tc.param == "" {
				apitest.Forwarded(t, resp, out, got, tc.want)
				return
			}
			var eb struct {
				Error struct {
					Type  string `json:"type"`
					Param string `json:"param"`
					Code  string `json:"code"`
				} `json:"error"`
			}
			if resp.StatusCode != 400 || json.Unmarshal(out, &eb) != nil {
				t.Fatalf("status %d %.300s, want a 400 in OpenAI's error shape", resp.StatusCode, out)
			}
			code := cmp.Or(tc.code, "unsupported_field")
			if !strings.HasPrefix(eb.Error.Param, tc.param) || eb.Error.Type != "invalid_request_error" || eb.Error.Code != code {
				t.Errorf("error %+v, want invalid_request_error %s on %.40s", eb.Error, code, tc.param)
			}
			apitest.Withheld(t, out, got)
		})
	}
}
