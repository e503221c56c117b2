package bedrock

import (
	"github.com/meridian-gateway/meridian/internal/inference"
)

// AnthropicVersion is the anthropic_version that InvokeModel bodies carry on
// Bedrock.
const AnthropicVersion = "bedrock-2023-05-31"

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
