package mockllm_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// TestBedrockServiceTier: the Bedrock routes take a service tier as the
// X-Amzn-Bedrock-Service-Tier header (every operation) or Converse's
// serviceTier.type, refuse a value outside Bedrock's (a
// ValidationException), and report the tier as Bedrock does: InvokeModel's
// response header, Converse's serviceTier in the answer and in the
// stream's metadata event; nothing when none was asked for.
func TestBedrockServiceTier(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{CompletionTokens: 3})
	const (
		invoke   = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`
		converse = `{"messages":[{"role":"user","content":[{"text":"hi"}]}]%s}`
	)
	tests := []struct {
		name, op, header, body string
		want                   string // the reported tier, "" for none
		refused                string
	}{
		{"InvokeModel header", "invoke", "priority", invoke, "priority", ""},
		{"InvokeModel stream header", "invoke-with-response-stream", "flex", invoke, "flex", ""},
		{"InvokeModel none", "invoke", "", invoke, "", ""},
		{"InvokeModel unknown", "invoke", "auto", invoke, "", "Value 'auto' at 'serviceTier' failed to satisfy constraint: Member must satisfy enum value set"},
		{"Converse header", "converse", "priority", strings.Replace(converse, "%s", "", 1), "priority", ""},
		{"Converse body", "converse", "", strings.Replace(converse, "%s", `,"serviceTier":{"type":"reserved"}`, 1), "reserved", ""},
		{"ConverseStream body", "converse-stream", "", strings.Replace(converse, "%s", `,"serviceTier":{"type":"flex"}`, 1), "flex", ""},
		{"Converse none", "converse", "", strings.Replace(converse, "%s", "", 1), "", ""},
		{"Converse unknown body", "converse", "", strings.Replace(converse, "%s", `,"serviceTier":{"type":"standard"}`, 1), "",
			"Value 'standard' at 'serviceTier.type' failed to satisfy constraint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, url+"/model/anthropic.claude-sonnet-4-5/"+tc.op, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			if tc.header != "" {
				req.Header.Set("X-Amzn-Bedrock-Service-Tier", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.refused != "" {
				if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" || !strings.Contains(string(b), tc.refused) {
					t.Errorf("%d %s, want a ValidationException containing %q", resp.StatusCode, b, tc.refused)
				}
				return
			}
			if resp.StatusCode != 200 {
				t.Fatalf("%d %s", resp.StatusCode, b)
			}
			var got string
			switch tc.op {
			case "invoke", "invoke-with-response-stream":
				got = resp.Header.Get("X-Amzn-Bedrock-Service-Tier")
			case "converse":
				var out struct {
					ServiceTier *struct{ Type string } `json:"serviceTier"`
				}
				json.Unmarshal(b, &out)
				if out.ServiceTier != nil {
					got = out.ServiceTier.Type
				}
			case "converse-stream":
				if h := resp.Header.Get("X-Amzn-Bedrock-Service-Tier"); h != "" {
					t.Errorf("ConverseStream answered header %q: Converse reports the tier in its body", h)
				}
				for _, e := range bedrockEvents(t, b) {
					var ev struct {
						Metadata *struct {
							ServiceTier *struct{ Type string } `json:"serviceTier"`
						} `json:"metadata"`
					}
					if json.Unmarshal(e, &ev) == nil && ev.Metadata != nil && ev.Metadata.ServiceTier != nil {
						got = ev.Metadata.ServiceTier.Type
					}
				}
			}
			if got != tc.want {
				t.Errorf("reported tier %q, want %q", got, tc.want)
			}
		})
	}
}
