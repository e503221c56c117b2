package bedrock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// AnthropicVersion is the anthropic_version that InvokeModel bodies carry on
// Bedrock.
const AnthropicVersion = "bedrock-2023-05-31"

// anthropicRequest is the Anthropic Messages body of InvokeModel.
type anthropicRequest struct {
	AnthropicVersion string             `json:"anthropic_version"`
	Messages         []anthropicMessage `json:"messages"`
	System           json.RawMessage    `json:"system"`
	MaxTokens        *int               `json:"max_tokens"`
	Temperature      *float64           `json:"temperature"`
	TopP             *float64           `json:"top_p"`
	TopK             *int               `json:"top_k"`
	StopSequences    []string           `json:"stop_sequences"`
	Tools            json.RawMessage    `json:"tools"`
	ToolChoice       json.RawMessage    `json:"tool_choice"`
}

type anthropicMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// anthropicText reads Anthropic content: a string, or an array of
// {"type":"text","text":...} blocks.
func anthropicText(raw json.RawMessage, field string) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", invalid(field + " is not a valid string")
		}
		return s, nil
	}
	var blocks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "", invalid(field + " must be a string or a list of content blocks")
	}
	var b []byte
	for i, bl := range blocks {
		if bl.Type != "text" {
			return "", invalid(fmt.Sprintf("%s[%d]: content block type %q is not supported by this gateway; only text is", field, i, auth.Truncate(bl.Type, maxQuoted)))
		}
		b = append(b, bl.Text...)
	}
	return string(b), nil
}

// decodeAnthropic validates an Anthropic Messages body and translates it.
func decodeAnthropic(model string, body []byte, stream bool) (*inference.Request, error) {
	req := &inference.Request{Model: model, Stream: stream}
	var ar anthropicRequest
	if err := json.Unmarshal(body, &ar); err != nil {
		return req, invalid("request body is not valid JSON for the Anthropic Messages API: " + auth.Truncate(err.Error(), maxQuoted))
	}
	switch {
	case ar.AnthropicVersion == "":
		return req, invalid("anthropic_version is required (use " + AnthropicVersion + "); this gateway serves Anthropic Messages bodies on InvokeModel")
	case ar.AnthropicVersion != AnthropicVersion:
		return req, invalid("anthropic_version " + strconv.Quote(auth.Truncate(ar.AnthropicVersion, maxQuoted)) + " is not supported (use " + AnthropicVersion + ")")
	case ar.MaxTokens == nil:
		return req, invalid("max_tokens is required")
	case *ar.MaxTokens < 1:
		return req, invalid("max_tokens must be at least 1")
	case len(ar.Messages) == 0:
		return req, invalid("messages must be a non-empty list")
	case isSet(ar.Tools), isSet(ar.ToolChoice):
		return req, invalid("tools are not supported by this gateway yet")
	case ar.Temperature != nil && (*ar.Temperature < 0 || *ar.Temperature > 1):
		return req, invalid("temperature must be between 0 and 1")
	case ar.TopP != nil && (*ar.TopP < 0 || *ar.TopP > 1):
		return req, invalid("top_p must be between 0 and 1")
	}
	req.MaxTokens, req.Temperature, req.TopP, req.Stop = *ar.MaxTokens, ar.Temperature, ar.TopP, ar.StopSequences
	if isSet(ar.System) {
		s, err := anthropicText(ar.System, "system")
		if err != nil {
			return req, err
		}
		req.Messages = append(req.Messages, inference.TextMessage(inference.RoleSystem, s))
	}
	for i, m := range ar.Messages {
		field := "messages[" + strconv.Itoa(i) + "]"
		role, err := messageRole(m.Role, field)
		if err != nil {
			return req, err
		}
		text, err := anthropicText(m.Content, field+".content")
		if err != nil {
			return req, err
		}
		req.Messages = append(req.Messages, inference.TextMessage(role, text))
	}
	return req, nil
}

type anthropicUsage struct {
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
}

type anthropicContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// anthropicResponse is the Anthropic Messages response (and the message of
// a message_start event, with empty content and a null stop reason).
type anthropicResponse struct {
	ID           string             `json:"id"`
	Type         string             `json:"type"`
	Role         string             `json:"role"`
	Model        string             `json:"model"`
	Content      []anthropicContent `json:"content"`
	StopReason   *string            `json:"stop_reason"`
	StopSequence *string            `json:"stop_sequence"`
	Usage        anthropicUsage     `json:"usage"`
}

// anthropicStop maps a canonical stop reason to Anthropic's vocabulary.
func anthropicStop(s inference.StopReason) string {
	switch s {
	case inference.StopMaxTokens:
		return "max_tokens"
	case inference.StopSequence:
		return "stop_sequence"
	}
	return "end_turn"
}

func anthropicBody(id, model string, resp *inference.Response) anthropicResponse {
	sr := anthropicStop(resp.StopReason)
	return anthropicResponse{ID: id, Type: "message", Role: "assistant", Model: model,
		Content:    []anthropicContent{{Type: "text", Text: resp.Message.Text()}},
		StopReason: &sr, Usage: anthropicUsage{InputTokens: resp.Usage.InputTokens, OutputTokens: resp.Usage.OutputTokens}}
}

// Anthropic stream events, carried base64-encoded in `chunk` events.
type (
	anthropicMessageStart struct {
		Type    string            `json:"type"`
		Message anthropicResponse `json:"message"`
	}
	anthropicBlockStart struct {
		Type         string           `json:"type"`
		Index        int              `json:"index"`
		ContentBlock anthropicContent `json:"content_block"`
	}
	anthropicBlockDelta struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
		Delta struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"delta"`
	}
	anthropicBlockStop struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	anthropicMessageDelta struct {
		Type  string `json:"type"`
		Delta struct {
			StopReason   string  `json:"stop_reason"`
			StopSequence *string `json:"stop_sequence"`
		} `json:"delta"`
		Usage anthropicUsage `json:"usage"`
	}
	anthropicMessageStop struct {
		Type    string             `json:"type"`
		Metrics *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
	}
	// invocationMetrics is what Bedrock appends to the last chunk.
	invocationMetrics struct {
		InputTokenCount   int   `json:"inputTokenCount"`
		OutputTokenCount  int   `json:"outputTokenCount"`
		InvocationLatency int64 `json:"invocationLatency"`
		FirstByteLatency  int64 `json:"firstByteLatency"`
	}
)
