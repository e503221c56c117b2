package bedrock

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/translate"
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

// invocationMetricsField is the member of the last chunk that holds
// [invocationMetrics].
const invocationMetricsField = "amazon-bedrock-invocationMetrics"

// withInvocationMetrics returns the held end of a stream translated into
// Anthropic events (from a Converse or OpenAI backend) with m in its
// message_stop, as Bedrock ends a Claude stream that passes through: the
// SDKs read token counts and latency there. The counts are those the
// non-streamed answer's X-Amzn-Bedrock-*-Token-Count headers carry. An
// event that has the member already is left as it is.
func withInvocationMetrics(held []translate.Event, m invocationMetrics) []translate.Event {
	for i := len(held) - 1; i >= 0; i-- {
		d := held[i].Data
		if string(inference.StringAfter(d, `"type":`)) != "message_stop" {
			continue
		}
		if inference.Field(d, invocationMetricsField) == nil {
			v, _ := json.Marshal(m)
			held[i].Data = inference.AppendSetField(nil, d, invocationMetricsField, v)
		}
		break
	}
	return held
}
