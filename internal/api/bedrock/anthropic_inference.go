package bedrock

import (
	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
)

// AnthropicVersion is the anthropic_version that InvokeModel bodies carry on
// Bedrock.
const AnthropicVersion = anthropic.BedrockVersion

// Anthropic stream events, carried base64-encoded in `chunk` events; the
// message, blocks and usage in them are the wire schema's, and a canonical
// answer's body is [dialect.AnthropicResponse].
type (
	anthropicMessageStart struct {
		Type    string             `json:"type"`
		Message anthropic.Response `json:"message"`
	}
	anthropicBlockStart struct {
		Type         string          `json:"type"`
		Index        int             `json:"index"`
		ContentBlock anthropic.Block `json:"content_block"`
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
		Usage anthropic.Usage `json:"usage"`
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
