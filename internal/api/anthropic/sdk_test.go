package anthropic_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"

	"github.com/meridian-gateway/meridian/internal/audit"
)

// client is Anthropic's official client, unmodified but for the base URL
// (what ANTHROPIC_BASE_URL sets), the key and no retries.
func (c *cluster) client(region, key string) anthropic.Client {
	return anthropic.NewClient(option.WithBaseURL(c.url(region)), option.WithAPIKey(key), option.WithMaxRetries(0))
}

// send sends params, streamed or not, and returns the message (accumulated
// from the events when streamed) and the HTTP response.
func send(t *testing.T, client anthropic.Client, params anthropic.MessageNewParams, stream bool) (*anthropic.Message, *http.Response) {
	t.Helper()
	var resp *http.Response
	if !stream {
		m, err := client.Messages.New(t.Context(), params, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatalf("Messages.New: %v", err)
		}
		return m, resp
	}
	s := client.Messages.NewStreaming(t.Context(), params, option.WithResponseInto(&resp))
	var m anthropic.Message
	events := map[string]int{}
	for s.Next() {
		ev := s.Current()
		events[ev.Type]++
		if err := m.Accumulate(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Messages.NewStreaming: %v", err)
	}
	for _, name := range []string{"message_start", "content_block_start", "content_block_stop", "message_delta", "message_stop"} {
		if events[name] == 0 {
			t.Errorf("stream events %v lack %s", events, name)
		}
	}
	return &m, resp
}

var weatherTool = anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{Name: "get_weather", Description: anthropic.String("The weather in a city"),
	InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}}}}

// served names the ways a request from eu-west-1 is served under an eu.
// profile: by a Bedrock backend whose model takes Anthropic bodies
// (pass-through), an OpenAI backend (translated) or a Bedrock backend whose
// model does not (translated to Converse), locally or forwarded over the
// link to eu-central-1.
var served = []struct{ name, model, region string }{
	{"bedrock local", "eu.demo.br", "eu-west-1"},
	{"bedrock forwarded", "eu.demo.brfar", "eu-central-1"},
	{"openai local", "eu.demo.oa", "eu-west-1"},
	{"openai forwarded", "eu.demo.oafar", "eu-central-1"},
	{"converse local", "eu.demo.nova", "eu-west-1"},
	{"converse forwarded", "eu.demo.novafar", "eu-central-1"},
}

// weatherParams asks model for the weather in Paris, offering weatherTool.
func weatherParams(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 64, Tools: []anthropic.ToolUnionParam{weatherTool},
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("What is the weather in Paris?"))}}
}

// TestMessagesToolConversationAudited is the done-when of the Messages
// front end: Anthropic's client pointed at a node in the EU holds a
// tool-using conversation (call, tool_result, final answer), streamed and
// not, served under an eu. profile in the EU, passed through to a Bedrock
// backend or translated for an OpenAI one, locally and forwarded; each
// request's audit event says Messages, where inference ran and under which
// profile.
func TestMessagesToolConversationAudited(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.key)
	for _, sv := range served {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", sv.name, stream), func(t *testing.T) {
				params := weatherParams(sv.model)
				m, resp := send(t, client, params, stream)
				if m.StopReason != anthropic.StopReasonToolUse || len(m.Content) == 0 || m.Content[len(m.Content)-1].Type != "tool_use" {
					t.Fatalf("answer %+v, want a get_weather tool use", m)
				}
				use := m.Content[len(m.Content)-1]
				var in struct{ City string }
				if use.Name != "get_weather" || json.Unmarshal(use.Input, &in) != nil || in.City == "" {
					t.Fatalf("tool use %+v, want get_weather with a city", use)
				}
				if m.Model != anthropic.Model(sv.model) {
					t.Errorf("model %q, want the one asked for, %q", m.Model, sv.model)
				}
				ids := []string{resp.Header.Get("Request-Id")}
				params.Messages = append(params.Messages, m.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(use.ID, "21 C and sunny", false)))
				final, resp := send(t, client, params, stream)
				if final.StopReason != anthropic.StopReasonEndTurn || len(final.Content) == 0 || final.Content[0].Text == "" {
					t.Fatalf("final answer %+v, want text", final)
				}
				ids = append(ids, resp.Header.Get("Request-Id"))
				if got := resp.Header.Get("X-Meridian-Inference-Region"); got != sv.region {
					t.Errorf("inference region header %q, want %s", got, sv.region)
				}
				for _, id := range ids {
					e := sourceEvent(t, c, id)
					if e.EventName != "Messages" || e.InferenceRegion != sv.region || !strings.HasSuffix(e.InferenceProfileARN, "/"+sv.model) || e.StatusCode != 200 {
						t.Errorf("audit event of %s: eventName %q inference %q profile %q status %d, want Messages, %s, %s, 200",
							id, e.EventName, e.InferenceRegion, e.InferenceProfileARN, e.StatusCode, sv.region, sv.model)
					}
				}
			})
		}
	}
}

// TestMessagesToolMembersEverywhere: the tool members @ai-sdk/anthropic
// and Anthropic's client send (eager_input_streaming on every streamed
// tool, defer_loading false, allowed_callers ["direct"]) are served by
// every kind of deployment: sent as they are to Claude on Bedrock, and
// left out toward OpenAI and Converse, whose streams deliver tool input as
// it is written anyway.
func TestMessagesToolMembersEverywhere(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.key)
	for _, sv := range served {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", sv.name, stream), func(t *testing.T) {
				params := weatherParams(sv.model)
				tool := *weatherTool.OfTool
				tool.EagerInputStreaming = anthropic.Bool(true)
				tool.DeferLoading = anthropic.Bool(false)
				tool.AllowedCallers = []string{"direct"}
				params.Tools = []anthropic.ToolUnionParam{{OfTool: &tool}}
				m, _ := send(t, client, params, stream)
				if m.StopReason != anthropic.StopReasonToolUse || len(m.Content) == 0 || m.Content[len(m.Content)-1].Name != "get_weather" {
					t.Fatalf("answer %+v, want a get_weather tool use", m)
				}
			})
		}
	}
}

// sourceEvent reads back the source-side audit event of request id.
func sourceEvent(t *testing.T, c *cluster, id string) *audit.Event {
	t.Helper()
	if id == "" {
		t.Fatal("no request-id header")
	}
	var found []*audit.Event
	if err := audit.Query(c.auditDir, audit.Filter{Side: audit.SideSource}, func(e *audit.Event) error {
		if e.EventID == id {
			found = append(found, e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("request %s has %d source-side audit events, want 1", id, len(found))
	}
	return found[0]
}

// TestMessagesFeatures: images, cache_control and thinking reach a
// Bedrock backend as sent, streamed and not.
func TestMessagesFeatures(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.key)
	// A marked prefix of 1024 tokens or more: the first request writes it,
	// the later ones read it.
	long := strings.Repeat("Clause 4 applies to every shipment. ", 120)
	for i, stream := range []bool{false, true} {
		t.Run(fmt.Sprintf("stream=%v", stream), func(t *testing.T) {
			m, _ := send(t, client, anthropic.MessageNewParams{Model: "eu.demo.br", MaxTokens: 2048,
				Thinking: anthropic.ThinkingConfigParamOfEnabled(1024),
				System:   []anthropic.TextBlockParam{{Text: long, CacheControl: anthropic.NewCacheControlEphemeralParam()}},
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("What is this?"),
					anthropic.NewImageBlockBase64("image/png", "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="))}}, stream)
			if cache := m.Usage.CacheReadInputTokens; len(m.Content) == 0 || (i == 0 && m.Usage.CacheCreationInputTokens <= 0) || (i > 0 && cache <= 0) {
				t.Fatalf("answer %+v, want content and cache write tokens, then read tokens", m)
			}
		})
	}
}

// TestMessagesCountTokens: count_tokens answers the gateway's estimate,
// more for a longer prompt, and charges no quota.
func TestMessagesCountTokens(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.limitedKey)
	count := func(text string) int64 {
		t.Helper()
		n, err := client.Messages.CountTokens(t.Context(), anthropic.MessageCountTokensParams{Model: "eu.demo.br",
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock(text))}})
		if err != nil {
			t.Fatalf("CountTokens: %v", err)
		}
		return n.InputTokens
	}
	short, long := count("Hello"), count(strings.Repeat("Hello there, ", 200))
	if short <= 0 || long <= short {
		t.Fatalf("counts %d and %d, want positive and growing with the prompt", short, long)
	}
	// The limited principal's one request a minute is still there.
	if _, err := client.Messages.New(t.Context(), anthropic.MessageNewParams{Model: "eu.demo.br", MaxTokens: 8,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}}); err != nil {
		t.Fatalf("Messages.New after count_tokens: %v", err)
	}
	// Refused like a Messages request.
	tests := []struct {
		name, key, model string
		status           int
		typ              string
	}{
		{"wrong key", "mk-wrong", "eu.demo.br", 401, "authentication_error"},
		{"denied by policy", c.deniedKey, "eu.demo.br", 403, "permission_error"},
		{"us profile from the EU", c.key, "us.demo.br", 400, "invalid_request_error"},
		{"unknown model", c.key, "eu.nope", 404, "not_found_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cl := c.client("eu-west-1", tc.key)
			_, err := cl.Messages.CountTokens(t.Context(), anthropic.MessageCountTokensParams{Model: anthropic.Model(tc.model),
				Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}})
			var ae *anthropic.Error
			if !errors.As(err, &ae) || ae.StatusCode != tc.status || string(ae.Type()) != tc.typ {
				t.Fatalf("count_tokens = %v, want a %d %s", err, tc.status, tc.typ)
			}
		})
	}
}

// TestMessagesErrors: refusals reach Anthropic's client as its typed
// errors, with the request id.
func TestMessagesErrors(t *testing.T) {
	c := startCluster(t)
	msg := func(model string) anthropic.MessageNewParams {
		return anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 8,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}}
	}
	// The limited principal spends its one request a minute.
	limited := c.client("eu-west-1", c.limitedKey)
	var resp *http.Response
	if _, err := limited.Messages.New(t.Context(), msg("eu.demo.br"), option.WithResponseInto(&resp)); err != nil {
		t.Fatal(err)
	}
	// Its limits, in Anthropic's headers.
	if h := resp.Header; h.Get("Anthropic-Ratelimit-Requests-Limit") != "1" || h.Get("Anthropic-Ratelimit-Requests-Remaining") != "0" ||
		h.Get("Anthropic-Ratelimit-Requests-Reset") == "" || h.Get("X-Ratelimit-Limit-Requests") != "" {
		t.Errorf("headers %v, want anthropic-ratelimit-requests-* (limit 1, remaining 0, a reset) and no x-ratelimit-*", h)
	}
	if _, err := time.Parse(time.RFC3339, resp.Header.Get("Anthropic-Ratelimit-Requests-Reset")); err != nil {
		t.Errorf("reset: %v, want an RFC 3339 time", err)
	}
	tests := []struct {
		name, key, model string
		stream           bool
		status           int
		typ              string
		msgHas           string
	}{
		{"bad key", "mk-wrong", "eu.demo.br", false, 401, "authentication_error", ""},
		{"bad key streamed", "mk-wrong", "eu.demo.br", true, 401, "authentication_error", ""},
		{"us profile from the EU", "", "us.demo.br", false, 400, "invalid_request_error", "us"},
		{"us profile from the EU streamed", "", "us.demo.br", true, 400, "invalid_request_error", "us"},
		{"unknown model", "", "eu.nope", false, 404, "not_found_error", ""},
		{"denied by policy", "denied", "eu.demo.br", false, 403, "permission_error", ""},
		{"throttled", "limited", "eu.demo.br", false, 429, "rate_limit_error", ""},
		{"throttled streamed", "limited", "eu.demo.br", true, 429, "rate_limit_error", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := c.key
			switch tc.key {
			case "limited":
				key = c.limitedKey
			case "denied":
				key = c.deniedKey
			case "":
			default:
				key = tc.key
			}
			client := c.client("eu-west-1", key)
			var err error
			if tc.stream {
				s := client.Messages.NewStreaming(t.Context(), msg(tc.model))
				for s.Next() {
				}
				err = s.Err()
			} else {
				_, err = client.Messages.New(t.Context(), msg(tc.model))
			}
			var ae *anthropic.Error
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T), want *anthropic.Error", err, err)
			}
			if ae.StatusCode != tc.status || string(ae.Type()) != tc.typ || ae.RequestID == "" {
				t.Fatalf("error status %d type %q request id %q (%s), want %d %s with an id", ae.StatusCode, ae.Type(), ae.RequestID, ae.RawJSON(), tc.status, tc.typ)
			}
			if tc.msgHas != "" && !strings.Contains(ae.RawJSON(), tc.msgHas) {
				t.Errorf("error %s does not name %q", ae.RawJSON(), tc.msgHas)
			}
			if tc.status == 429 {
				if ae.Response.Header.Get("Retry-After") == "" || ae.Response.Header.Get("Anthropic-Ratelimit-Requests-Limit") != "1" {
					t.Errorf("429 headers %v, want Retry-After and anthropic-ratelimit-requests-limit: 1", ae.Response.Header)
				}
				if ae.Response.Header.Get("X-Ratelimit-Limit-Requests") != "" {
					t.Errorf("429 carries OpenAI's x-ratelimit-* headers: %v", ae.Response.Header)
				}
			}
		})
	}
}
