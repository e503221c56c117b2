package dialect

import (
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
)

// AnthropicResponse renders a canonical answer (one a backend re-encoded,
// with no Body in a dialect) as an Anthropic Messages response named id
// and model: one text block, the stop reason and the usage. The Anthropic
// front end and Bedrock's InvokeModel for Claude both answer with it.
func AnthropicResponse(id, model string, resp *inference.Response) anthropic.Response {
	sr := AnthropicStopReason(resp.StopReason)
	return anthropic.Response{ID: id, Type: "message", Role: "assistant", Model: model,
		Content:    []anthropic.Block{{Type: anthropic.BlockText, Text: resp.Message.Text()}},
		StopReason: &sr, Usage: anthropicUsage(resp.Usage)}
}

// AnthropicMessageStart returns the message of the message_start event
// that opens a canonical stream rendered as Anthropic's: no content yet,
// no stop reason, and the input tokens estimated before the answer.
func AnthropicMessageStart(id, model string, inputTokens int) anthropic.Response {
	return anthropic.Response{ID: id, Type: "message", Role: "assistant", Model: model,
		Content: []anthropic.Block{}, Usage: anthropic.Usage{InputTokens: int64(inputTokens)}}
}

// anthropicUsage is u in Anthropic's shape, input and output tokens only.
func anthropicUsage(u inference.Usage) anthropic.Usage {
	return anthropic.Usage{InputTokens: int64(u.InputTokens), OutputTokens: int64(u.OutputTokens)}
}
