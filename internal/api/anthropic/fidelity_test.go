package anthropic

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/api/apitest"
	"github.com/meridian-gateway/meridian/internal/backend/backendtest"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// TestTranslatedMembersReachTheModelOrAreRefused: through the real front
// end and gateway, a Messages body served by an OpenAI deployment (the
// simulated model) either reaches the model with each member in its Chat
// Completions form, or is refused with a 400 in Anthropic's error shape
// naming the member (its JSON path), before any call to the model, in a
// bounded body.
func TestTranslatedMembersReachTheModelOrAreRefused(t *testing.T) {
	t.Parallel()
	const key = "sk-test-anthropic-fidelity"
	url, got := backendtest.Model(t)
	srv := apitest.Serve(t, New(gatewaytest.OneRegion(t, key, backendtest.OpenAI(t, url)), Options{}))

	const user = `"model":"eu.m","max_tokens":64,"messages":[{"role":"user","content":`
	tests := []struct {
		name  string
		body  string
		field string   // the refused member, or "" when served
		want  []string // substrings of the body the upstream receives
	}{
		{name: "stop sequences, user and tool choice carried",
			body: `{` + user + `"hi"}],"stop_sequences":["END"],"metadata":{"user_id":"u-1"},"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"auto","disable_parallel_tool_use":true}}`,
			want: []string{`"stop":["END"]`, `"user":"u-1"`, `"parallel_tool_calls":false`, `"tool_choice":"auto"`}},
		{name: "a signature on a text block", body: `{` + user + `[{"type":"text","text":"hi","signature":"c2ln"}]}]}`,
			field: "messages[0].content[0].signature"},
		{name: "a url beside base64 data", body: `{` + user + `[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"aGk=","url":"https://example.com/a.png"}}]}]}`,
			field: "messages[0].content[0].source.url"},
		{name: "top_k", body: `{` + user + `"hi"}],"top_k":5}`, field: "top_k"},
		{name: "a long unknown member", body: `{` + user + `"hi"}],"` + strings.Repeat("k", 1<<16) + `":1}`, field: strings.Repeat("k", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, out := apitest.Post(t, srv.URL+"/v1/messages", tc.body, "x-api-key", key)
			if tc.field == "" {
				apitest.Forwarded(t, resp, out, got, tc.want)
				return
			}
			var eb struct {
				Type  string `json:"type"`
				Error struct {
					Type    string `json:"type"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if resp.StatusCode != 400 || json.Unmarshal(out, &eb) != nil || eb.Type != "error" || eb.Error.Type != "invalid_request_error" {
				t.Fatalf("status %d %.300s, want a 400 invalid_request_error in Anthropic's error shape", resp.StatusCode, out)
			}
			if !strings.HasPrefix(eb.Error.Message, tc.field) {
				t.Errorf("message %.200q does not name %.80s", eb.Error.Message, tc.field)
			}
			apitest.Withheld(t, out, got)
		})
	}
}

// TestPassThroughKeepsEveryMember: a Messages body served by a Claude
// deployment on Bedrock reaches InvokeModel as the client sent it but for
// model and stream (the URL and the operation carry them), with
// anthropic_version set and the anthropic-beta header as anthropic_beta;
// members this gateway does not know travel too, and the answer keeps its
// own.
func TestPassThroughKeepsEveryMember(t *testing.T) {
	t.Parallel()
	const key = "sk-test-anthropic-passthrough"
	const answer = `{"id":"msg_up","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"hi","citations":[{"type":"char_location","cited_text":"h","document_index":0,"start_char_index":0,"end_char_index":1}]}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1,"cache_creation":{"ephemeral_1h_input_tokens":0},"service_tier":"standard"},"x_future":true}`
	url, got := backendtest.Answer(t, answer)
	b := backendtest.Bedrock(t, "anthropic.claude-sonnet-4-5", url)
	srv := apitest.Serve(t, New(gatewaytest.OneRegion(t, key, b), Options{}))

	body := `{"model":"eu.m","max_tokens":16,"top_k":3,"inference_geo":"eu","messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"h"},"citations":{"enabled":true},"cache_control":{"type":"ephemeral","ttl":"1h"}},{"type":"text","text":"hi"}]}],"x_future":{"keep":[1,2]}}`
	resp, out := apitest.Post(t, srv.URL+"/v1/messages", body, "x-api-key", key, "anthropic-beta", "context-1m-2025-08-07")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %.300s", resp.StatusCode, out)
	}
	want := `{"anthropic_beta":["context-1m-2025-08-07"],"max_tokens":16,"top_k":3,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"text","media_type":"text/plain","data":"h"},"citations":{"enabled":true},"cache_control":{"type":"ephemeral","ttl":"1h"}},{"type":"text","text":"hi"}]}],"x_future":{"keep":[1,2]},"anthropic_version":"bedrock-2023-05-31"}`
	if sent := string((<-got).Body); sent != want {
		t.Errorf("upstream received\n%s\nwant\n%s", sent, want)
	}
	for _, member := range []string{`"x_future":true`, `"citations":[{`, `"cache_creation":`, `"service_tier":"standard"`} {
		if !strings.Contains(string(out), member) {
			t.Errorf("client received %s, lacking %s", out, member)
		}
	}
}

// TestInferenceGeo: inference_geo never widens where a request runs. A
// Claude deployment on Bedrock is sent the body without it when it is
// null, global or the geography of the profile named (the profile keeps
// the request there); any other value is a 400 naming inference_geo, and
// nothing is sent. The tool members of @ai-sdk/anthropic's streamed
// requests travel to Claude as sent.
func TestInferenceGeo(t *testing.T) {
	t.Parallel()
	const key = "sk-test-anthropic-geo"
	url, got := backendtest.Answer(t, `{"id":"msg_up","type":"message","role":"assistant","model":"claude","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}`)
	b := backendtest.Bedrock(t, "anthropic.claude-sonnet-4-5", url)
	srv := apitest.Serve(t, New(gatewaytest.OneRegion(t, key, b), Options{}))
	const tools = `"tools":[{"name":"w","input_schema":{"type":"object"},"eager_input_streaming":true}]`
	for _, tc := range []struct{ geo, wantErr string }{
		{geo: `null`}, {geo: `"global"`}, {geo: `"eu"`},
		{geo: `"us"`, wantErr: "inference_geo: \"us\" cannot be honoured"}, {geo: `"EU"`, wantErr: "inference_geo: \"EU\""}, {geo: `7`, wantErr: "inference_geo: a string"},
	} {
		t.Run(tc.geo, func(t *testing.T) {
			body := `{"model":"eu.m","max_tokens":16,"inference_geo":` + tc.geo + `,` + tools + `,"messages":[{"role":"user","content":"hi"}]}`
			resp, out := apitest.Post(t, srv.URL+"/v1/messages", body, "x-api-key", key)
			if tc.wantErr != "" {
				var eb struct{ Error struct{ Message string } }
				json.Unmarshal(out, &eb)
				if resp.StatusCode != 400 || !strings.HasPrefix(eb.Error.Message, tc.wantErr) {
					t.Fatalf("status %d, %.300s; want 400 starting %q", resp.StatusCode, out, tc.wantErr)
				}
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %.300s", resp.StatusCode, out)
			}
			want := `{"max_tokens":16,` + tools + `,"messages":[{"role":"user","content":"hi"}],"anthropic_version":"bedrock-2023-05-31"}`
			if sent := string((<-got).Body); sent != want {
				t.Errorf("upstream received\n%s\nwant\n%s", sent, want)
			}
		})
	}
}

// TestStopSequenceThroughConverse: a Messages request served by a model
// on Bedrock that is not Claude (translated to Converse) that stops on its
// stop sequence answers stop_reason stop_sequence naming it, streamed or
// not, though Converse does not say which sequence it was.
func TestStopSequenceThroughConverse(t *testing.T) {
	t.Parallel()
	const key = "sk-test-anthropic-stop"
	up := httptest.NewServer(mockllm.New(mockllm.Config{CompletionTokens: 12}).Handler())
	t.Cleanup(up.Close)
	b := backendtest.Bedrock(t, "amazon.nova-pro-v1:0", up.URL)
	srv := apitest.Serve(t, New(gatewaytest.OneRegion(t, key, b), Options{}))
	post := func(body string) string {
		t.Helper()
		resp, out := apitest.Post(t, srv.URL+"/v1/messages", body, "x-api-key", key)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %.300s", resp.StatusCode, out)
		}
		return string(out)
	}
	body := func(extra string) string {
		return `{"model":"eu.m","max_tokens":64` + extra + `,"messages":[{"role":"user","content":"Count to twelve."}]}`
	}
	var first struct {
		Content []struct{ Text string }
	}
	if err := json.Unmarshal([]byte(post(body(""))), &first); err != nil || len(first.Content) == 0 {
		t.Fatalf("first answer: %v", err)
	}
	words := strings.Fields(first.Content[0].Text)
	if len(words) < 4 {
		t.Fatalf("answer %q is too short to cut", first.Content[0].Text)
	}
	stop, _ := json.Marshal(" " + words[3])
	want := `"stop_reason":"stop_sequence","stop_sequence":` + string(stop)
	if got := post(body(`,"stop_sequences":[` + string(stop) + `]`)); !strings.Contains(got, want) {
		t.Errorf("answer %s lacks %s", got, want)
	}
	if got := post(body(`,"stream":true,"stop_sequences":[` + string(stop) + `]`)); !strings.Contains(got, want) {
		t.Errorf("stream %s lacks %s", got, want)
	}
}
