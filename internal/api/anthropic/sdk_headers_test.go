package anthropic_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
)

// TestMessagesAnthropicHeaders: anthropic-sdk-go's UserProfileID and
// WorkspaceID (sent as anthropic-user-profile-id and anthropic-workspace-id)
// and any other anthropic-* header /v1/messages does not take are refused
// with a 400 naming the header, on every kind of deployment, streamed or
// not, and on count_tokens; anthropic-version, anthropic-beta (toward
// Bedrock) and anthropic-dangerous-direct-browser-access are served.
func TestMessagesAnthropicHeaders(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.key)
	params := func(model string) anthropic.MessageNewParams {
		return anthropic.MessageNewParams{Model: anthropic.Model(model), MaxTokens: 8,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}}
	}
	refused := []struct {
		name, header string
		set          func(p *anthropic.MessageNewParams) []option.RequestOption
	}{
		{"UserProfileID", "anthropic-user-profile-id", func(p *anthropic.MessageNewParams) []option.RequestOption {
			p.UserProfileID = anthropic.String("uprof_123")
			return nil
		}},
		{"WorkspaceID", "anthropic-workspace-id", func(p *anthropic.MessageNewParams) []option.RequestOption {
			p.WorkspaceID = anthropic.String("wrkspc_123")
			return nil
		}},
		{"unknown anthropic header", "anthropic-future-thing", func(*anthropic.MessageNewParams) []option.RequestOption {
			return []option.RequestOption{option.WithHeader("Anthropic-Future-Thing", "1")}
		}},
	}
	check := func(t *testing.T, err error, header string) {
		t.Helper()
		var ae *anthropic.Error
		if !errors.As(err, &ae) {
			t.Fatalf("error %v (%T), want *anthropic.Error", err, err)
		}
		if ae.StatusCode != 400 || string(ae.Type()) != "invalid_request_error" || !strings.Contains(ae.RawJSON(), header) {
			t.Fatalf("error %d %s %s, want a 400 invalid_request_error naming %s", ae.StatusCode, ae.Type(), ae.RawJSON(), header)
		}
	}
	for _, sv := range served {
		for _, tc := range refused {
			for _, stream := range []bool{false, true} {
				name := sv.name + "/" + tc.name
				if stream {
					name += "/streamed"
				}
				t.Run(name, func(t *testing.T) {
					p := params(sv.model)
					opts := tc.set(&p)
					var err error
					if stream {
						s := client.Messages.NewStreaming(t.Context(), p, opts...)
						for s.Next() {
						}
						err = s.Err()
					} else {
						_, err = client.Messages.New(t.Context(), p, opts...)
					}
					check(t, err, tc.header)
				})
			}
		}
	}
	t.Run("count_tokens", func(t *testing.T) {
		_, err := client.Messages.CountTokens(t.Context(), anthropic.MessageCountTokensParams{Model: "eu.demo.oa",
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hi"))}},
			option.WithHeader("anthropic-user-profile-id", "uprof_123"))
		check(t, err, "anthropic-user-profile-id")
	})
	// The headers the SDKs send and that ask the model for nothing.
	for _, sv := range served {
		t.Run(sv.name+"/known headers", func(t *testing.T) {
			opts := []option.RequestOption{option.WithHeader("anthropic-dangerous-direct-browser-access", "true"), option.WithHeader("anthropic-version", "2023-06-01")}
			if _, err := client.Messages.New(t.Context(), params(sv.model), opts...); err != nil {
				t.Fatalf("Messages.New with anthropic-version and anthropic-dangerous-direct-browser-access: %v", err)
			}
		})
	}
}
