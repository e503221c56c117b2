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
	_, url := start(t, mockllm.Config{CompletionTokens: 3, ServiceTiers: map[string][]string{"anthropic.claude-sonnet-4-5": {"priority", "flex"}}})
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
		{"Converse unknown body beside a header", "converse", "flex", strings.Replace(converse, "%s", `,"serviceTier":{"type":"gold"}`, 1), "",
			"Value 'gold' at 'serviceTier.type' failed to satisfy constraint"},
		{"Converse header and body disagree", "converse", "flex", strings.Replace(converse, "%s", `,"serviceTier":{"type":"priority"}`, 1), "",
			"does not match serviceTier.type"},
		{"Converse header and body agree", "converse", "flex", strings.Replace(converse, "%s", `,"serviceTier":{"type":"flex"}`, 1), "flex", ""},
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

// TestBedrockServiceTierModels: priority and flex are offered by the
// models the server's table names (by default the families Bedrock's
// service-tier page lists); another model refuses them with a
// ValidationException, as Bedrock does, and still serves default and
// reserved. The OpenAI face refuses service_tier alike with OpenAI's 400.
func TestBedrockServiceTierModels(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{CompletionTokens: 3})
	_, urlTable := start(t, mockllm.Config{CompletionTokens: 3, ServiceTiers: map[string][]string{"m": {"flex"}}})
	const converse = `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`
	for _, tc := range []struct {
		name, url, model, tier string
		ok                     bool
	}{
		{"Claude, priority", url, "anthropic.claude-sonnet-4-5", "priority", false},
		{"Claude, flex", url, "anthropic.claude-sonnet-4-5", "flex", false},
		{"Claude, default", url, "anthropic.claude-sonnet-4-5", "default", true},
		{"Claude, reserved", url, "anthropic.claude-sonnet-4-5", "reserved", true},
		{"Nova Pro, priority", url, "amazon.nova-pro-v1:0", "priority", true},
		{"Nova Pro profile, flex", url, "eu.amazon.nova-pro-v1:0", "flex", true},
		{"gpt-oss, flex", url, "openai.gpt-oss-120b-1:0", "flex", true},
		{"table: m, flex", urlTable, "m", "flex", true},
		{"table: m, priority", urlTable, "m", "priority", false},
		{"table: another model, flex", urlTable, "amazon.nova-pro-v1:0", "flex", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, tc.url+"/model/"+tc.model+"/converse", strings.NewReader(converse))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Amzn-Bedrock-Service-Tier", tc.tier)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tc.ok != (resp.StatusCode == 200) {
				t.Fatalf("%d %s, want ok %v", resp.StatusCode, b, tc.ok)
			}
			if !tc.ok && (resp.StatusCode != 400 || resp.Header.Get("X-Amzn-Errortype") != "ValidationException" || !strings.Contains(string(b), "not supported for model")) {
				t.Errorf("%d %s %q, want a ValidationException", resp.StatusCode, b, resp.Header.Get("X-Amzn-Errortype"))
			}
			if tc.model == "m" || tc.url == urlTable {
				// The OpenAI face of the same table.
				body := `{"model":"` + tc.model + `","service_tier":"` + tc.tier + `","messages":[{"role":"user","content":"hi"}]}`
				resp, err := http.Post(tc.url+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if tc.ok != (resp.StatusCode == 200) {
					t.Fatalf("chat: %d %s, want ok %v", resp.StatusCode, b, tc.ok)
				}
				if !tc.ok && (!strings.Contains(string(b), `"type":"invalid_request_error"`) || !strings.Contains(string(b), `"param":"service_tier"`)) {
					t.Errorf("chat: %s, want OpenAI's invalid_request_error naming service_tier", b)
				}
			}
		})
	}
}

// TestBedrockServedTierOption: with Config.ServedTier, an answer to a
// request that asked for priority or flex reports that tier instead
// (Bedrock serving another tier than asked), on InvokeModel's header and
// Converse's body; a request that asked for none reports none.
func TestBedrockServedTierOption(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{CompletionTokens: 3, ServedTier: "default"})
	const invoke = `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`
	for _, tc := range []struct{ op, tier, want string }{
		{"invoke", "flex", "default"}, {"converse", "priority", "default"}, {"converse", "", ""}, {"invoke", "reserved", "reserved"},
	} {
		req, _ := http.NewRequest(http.MethodPost, url+"/model/amazon.nova-pro-v1:0/"+tc.op, strings.NewReader(invoke))
		req.Header.Set("Content-Type", "application/json")
		if tc.tier != "" {
			req.Header.Set("X-Amzn-Bedrock-Service-Tier", tc.tier)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", tc.op, tc.tier, resp.StatusCode, b)
		}
		got := resp.Header.Get("X-Amzn-Bedrock-Service-Tier")
		if tc.op == "converse" {
			var out struct {
				ServiceTier *struct{ Type string } `json:"serviceTier"`
			}
			json.Unmarshal(b, &out)
			got = ""
			if out.ServiceTier != nil {
				got = out.ServiceTier.Type
			}
		}
		if got != tc.want {
			t.Errorf("%s asked %q: reported %q, want %q", tc.op, tc.tier, got, tc.want)
		}
	}
}
