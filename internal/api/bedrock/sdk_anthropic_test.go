package bedrock_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	anthropicbedrock "github.com/anthropics/anthropic-sdk-go/bedrock"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// TestAnthropicSDKWhole: the official Anthropic Go client, in its Bedrock
// mode and unmodified but for the endpoint, sends Anthropic Messages
// bodies (its own anthropic_version) on InvokeModel: a tool-calling round
// trip, an image input and the prompt-caching usage fields, streamed and
// not, served locally and forwarded over the link.
func TestAnthropicSDKWhole(t *testing.T) {
	c := bedrockCluster(t)
	client := anthropic.NewClient(anthropicbedrock.WithConfig(aws.Config{Region: "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider(testAKID, testSecret, "")}), option.WithBaseURL(c.url("eu-west-1")), option.WithMaxRetries(0))
	send := func(t *testing.T, params anthropic.MessageNewParams, stream bool) *anthropic.Message {
		t.Helper()
		if !stream {
			m, err := client.Messages.New(t.Context(), params)
			if err != nil {
				t.Fatalf("Messages.New: %v", err)
			}
			return m
		}
		s := client.Messages.NewStreaming(t.Context(), params)
		var m anthropic.Message
		for s.Next() {
			if err := m.Accumulate(s.Current()); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Err(); err != nil {
			t.Fatalf("Messages.NewStreaming: %v", err)
		}
		return &m
	}
	tool := anthropic.ToolUnionParam{OfTool: &anthropic.ToolParam{Name: "get_weather",
		InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}}}}
	for _, sv := range servedBedrock {
		for _, stream := range []bool{false, true} {
			name := fmt.Sprintf("%s/stream=%v", sv.name, stream)
			t.Run(name+"/tool round trip", func(t *testing.T) {
				params := anthropic.MessageNewParams{Model: anthropic.Model(sv.model), MaxTokens: 64, Tools: []anthropic.ToolUnionParam{tool},
					Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Weather in Paris?"))}}
				m := send(t, params, stream)
				if m.StopReason != anthropic.StopReasonToolUse || len(m.Content) != 1 || m.Content[0].Type != "tool_use" || m.Content[0].Name != "get_weather" {
					t.Fatalf("answer %+v, want a get_weather tool use", m)
				}
				var in struct{ City string }
				if err := json.Unmarshal(m.Content[0].Input, &in); err != nil || in.City == "" {
					t.Fatalf("tool input %s (%v), want a city", m.Content[0].Input, err)
				}
				params.Messages = append(params.Messages, m.ToParam(), anthropic.NewUserMessage(anthropic.NewToolResultBlock(m.Content[0].ID, "21 C", false)))
				final := send(t, params, stream)
				if final.StopReason != anthropic.StopReasonEndTurn || len(final.Content) != 1 || final.Content[0].Text == "" {
					t.Fatalf("final answer %+v, want text", final)
				}
			})
			t.Run(name+"/image and cache control", func(t *testing.T) {
				// A marked prefix of 1024 tokens or more is written by the
				// first request and read by a repeat to the same deployment.
				long := strings.Repeat("Clause 4 applies to every shipment. ", 120)
				read := false
				for range 3 {
					m := send(t, anthropic.MessageNewParams{Model: anthropic.Model(sv.model), MaxTokens: 32,
						System: []anthropic.TextBlockParam{{Text: long, CacheControl: anthropic.NewCacheControlEphemeralParam()}},
						Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("What is this?"),
							anthropic.NewImageBlockBase64("image/png", "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="))}}, stream)
					if m.Usage.CacheReadInputTokens+m.Usage.CacheCreationInputTokens <= 0 || len(m.Content) == 0 {
						t.Fatalf("answer %+v, want text and cache read or write tokens", m)
					}
					read = read || m.Usage.CacheReadInputTokens > 0
				}
				if !read {
					t.Fatal("no repeat reported cache read tokens")
				}
			})
		}
	}
}
