package translate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestNothingDropped: every member a caller sends either reaches the
// translated body (want holds what must appear there) or is refused with
// an *UnsupportedError naming its path in the caller's body (refuse). Each
// case is a member a translator used to ignore without a word.
func TestNothingDropped(t *testing.T) {
	t.Parallel()
	const (
		oaBase = `"model":"m","messages":[{"role":"user","content":"hi"}]`
		anUser = `"max_tokens":100,"messages":[{"role":"user","content":`
		anTool = `"max_tokens":100,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":`
		cvTool = `"messages":[{"role":"user","content":[{"text":"hi"}]},{"role":"assistant","content":[{"toolUse":{"toolUseId":"t","name":"f","input":{}}}]},{"role":"user","content":[{"toolResult":`
	)
	both := []translate.Dialect{translate.Converse, translate.Anthropic}
	tests := []struct {
		name     string
		client   translate.Dialect
		backends []translate.Dialect // each backend the client's body is translated for
		body     string
		refuse   string   // the refused member's path, or "" when translated
		want     []string // substrings of the translated body
	}{
		{name: "max_tokens beside a different max_completion_tokens", client: translate.OpenAI, backends: both,
			body: `{` + oaBase + `,"max_tokens":4242,"max_completion_tokens":100}`, refuse: "max_tokens"},
		{name: "max_tokens equal to max_completion_tokens", client: translate.OpenAI, backends: both,
			body: `{` + oaBase + `,"max_tokens":100,"max_completion_tokens":100}`, want: []string{"100"}},
		{name: "json_schema description becomes the schema's", client: translate.OpenAI, backends: []translate.Dialect{translate.Anthropic},
			body: `{` + oaBase + `,"response_format":{"type":"json_schema","json_schema":{"name":"person","description":"A person","schema":{"type":"object"}}}}`,
			want: []string{`"schema":{"type":"object","description":"A person"}`}},
		{name: "json_schema description beside the schema's own", client: translate.OpenAI, backends: []translate.Dialect{translate.Anthropic},
			body:   `{` + oaBase + `,"response_format":{"type":"json_schema","json_schema":{"name":"p","description":"A person","schema":{"type":"object","description":"Someone"}}}}`,
			refuse: "response_format.json_schema.description"},
		{name: "json_schema description equal to the schema's own", client: translate.OpenAI, backends: []translate.Dialect{translate.Anthropic},
			body: `{` + oaBase + `,"response_format":{"type":"json_schema","json_schema":{"name":"p","description":"A person","schema":{"type":"object","description":"A person"}}}}`,
			want: []string{`"schema":{"type":"object","description":"A person"}`}},
		{name: "Converse jsonSchema description becomes the schema's", client: translate.Converse, backends: []translate.Dialect{translate.Anthropic},
			body: `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"outputConfig":{"textFormat":{"type":"json_schema","structure":{"jsonSchema":{"schema":"{\"type\":\"object\"}","name":"p","description":"A person"}}}}}`,
			want: []string{`"schema":{"type":"object","description":"A person"}`}},
		{name: "toolResult type", client: translate.Converse, backends: []translate.Dialect{translate.OpenAI},
			body: `{` + cvTool + `{"toolUseId":"t","type":"tool_search_result","content":[{"text":"x"}]}}]}]}`, refuse: "messages[2].content[0].toolResult.type"},
		{name: "signature on a text block", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body: `{` + anUser + `[{"type":"text","text":"hi","signature":"c2ln"}]}]}`, refuse: "messages[0].content[0].signature"},
		{name: "title on a text block", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body: `{` + anUser + `[{"type":"text","text":"hi","title":"Report"}]}]}`, refuse: "messages[0].content[0].title"},
		{name: "text on a tool_use block", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{"max_tokens":100,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{},"text":"why"}]},{"role":"user","content":"ok"}]}`,
			refuse: "messages[1].content[0].text"},
		{name: "url beside base64 data", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{` + anUser + `[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"aGk=","url":"https://example.com/a.png"}}]}]}`,
			refuse: "messages[0].content[0].source.url"},
		{name: "citations on a tool result's text", client: translate.Anthropic, backends: []translate.Dialect{translate.Converse},
			body:   `{` + anTool + `[{"type":"text","text":"x","citations":[{"type":"char_location","cited_text":"x","document_index":0,"start_char_index":0,"end_char_index":1}]}]}]}]}`,
			refuse: "messages[2].content[0].content[0].citations"},
		{name: "is_error on a system block", client: translate.Anthropic, backends: []translate.Dialect{translate.OpenAI, translate.Converse},
			body:   `{"max_tokens":100,"system":[{"type":"text","text":"Be brief.","is_error":true}],"messages":[{"role":"user","content":"hi"}]}`,
			refuse: "system[0].is_error"},
		{name: "cache_control on a thinking block", client: translate.Anthropic, backends: []translate.Dialect{translate.Converse},
			body:   `{"max_tokens":100,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"t","signature":"s","cache_control":{"type":"ephemeral"}},{"type":"text","text":"a"}]},{"role":"user","content":"ok"}]}`,
			refuse: "messages[1].content[0].cache_control"},
	}
	for _, tc := range tests {
		for _, backend := range tc.backends {
			t.Run(tc.name+"/"+tc.client.String()+"_"+backend.String(), func(t *testing.T) {
				t.Parallel()
				out, err := translate.Request(tc.client, backend, []byte(tc.body), "mdl", false, translate.Options{})
				checkTranslated(t, string(out), err, tc.refuse, tc.want)
			})
		}
	}
}

// TestResponsesNothingDropped is TestNothingDropped for the Responses API,
// whose refusals name the member's path in the Responses request.
func TestResponsesNothingDropped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		backends []translate.Dialect
		body     string
		refuse   string
		want     []string
	}{
		{name: "text.format description becomes the schema's", backends: []translate.Dialect{translate.Anthropic},
			body: `{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"p","description":"A person","schema":{"type":"object"}}}}`,
			want: []string{`"schema":{"type":"object","description":"A person"}`}},
		{name: "text.format description beside the schema's own", backends: []translate.Dialect{translate.Anthropic},
			body:   `{"model":"m","input":"hi","text":{"format":{"type":"json_schema","name":"p","description":"A person","schema":{"type":"object","description":"x"}}}}`,
			refuse: "text.format.description"},
	}
	for _, tc := range tests {
		for _, backend := range tc.backends {
			t.Run(tc.name+"/"+backend.String(), func(t *testing.T) {
				t.Parallel()
				out, err := translate.ResponsesRequest(backend, []byte(tc.body), "mdl", false, translate.Options{})
				checkTranslated(t, string(out), err, tc.refuse, tc.want)
			})
		}
	}
}

func checkTranslated(t *testing.T, out string, err error, refuse string, want []string) {
	t.Helper()
	if refuse != "" {
		var ue *translate.UnsupportedError
		if !errors.As(err, &ue) || ue.Field != refuse {
			t.Fatalf("translated to %s, err %v; want a refusal of %s", out, err, refuse)
		}
		if !strings.HasPrefix(ue.Error(), refuse+": ") {
			t.Errorf("refusal %q does not start with the member's path %s", ue.Error(), refuse)
		}
		return
	}
	if err != nil {
		t.Fatalf("refused: %v; want a translation", err)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("translated body %s lacks %s", out, w)
		}
	}
}
