package translate

import (
	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// With thinking on, Claude requires the assistant turn that called the
// tools whose results follow to start with its signed reasoning. A Chat
// Completions client cannot send that back (reasoning_content carries no
// signature), so a tool loop with reasoning_effort on fails on its second
// request with Bedrock's own 400, which names neither the member nor what
// works. Meridian sees the case before sending it: the last assistant
// turn of the translated request calls a tool and does not start with a
// thinking block (none was carried back, see responses_reasoning.go). It
// is refused naming reasoning_effort, saying what works, rather than sent
// with reasoning quietly turned off: the caller asked for reasoning.

// unsignedToolTurnReason says what works instead. The refusal is made
// where the Chat Completions body is translated (at the deployment, which
// cannot tell a Chat Completions client from a Responses one: the
// Responses front end routes a Chat Completions body), and the front end
// names the field in its caller's API (reasoning_effort, or
// reasoning.effort through internal/api/openai's renameResponses). So the
// reason names no field and tells neither client to move to an API it
// already uses: it says what each API can do.
const unsignedToolTurnReason = "with reasoning on, Claude needs the signed reasoning of the assistant turn that called the tool sent back, and this request carries none: " +
	"a Responses API request carries it when the earlier request asked for include [\"reasoning.encrypted_content\"] and its reasoning items are sent back in input " +
	"(a Chat Completions message has no place for it); otherwise turn reasoning off in the requests that carry tool results"

// refuseUnsignedToolTurnAnthropic refuses out, the Anthropic translation of
// req, when it enables thinking and its last assistant turn calls a tool
// without starting with thinking (see above).
func refuseUnsignedToolTurnAnthropic(req *openai.ChatCompletionRequest, out *anthropic.Request) error {
	if out.Thinking == nil || out.Thinking.Type != "enabled" {
		return nil
	}
	for k := len(out.Messages) - 1; k >= 0; k-- {
		m := out.Messages[k]
		if m.Role != anthropic.RoleAssistant {
			continue
		}
		blocks := m.Content.Blocks
		if len(blocks) == 0 || blocks[0].Type == anthropic.BlockThinking || blocks[0].Type == anthropic.BlockRedactedThinking {
			return nil
		}
		for _, b := range blocks {
			if b.Type == anthropic.BlockToolUse {
				return refuser(targetAnthropic).because("reasoning_effort", unsignedToolTurnReason)
			}
		}
		return nil
	}
	return nil
}

// refuseUnsignedToolTurnConverse is refuseUnsignedToolTurnAnthropic for a
// Converse translation to a Claude model (opts.Family).
func refuseUnsignedToolTurnConverse(req *openai.ChatCompletionRequest, out *converse.Request, opts Options) error {
	if opts.Family != FamilyClaude || !thinks(req) {
		return nil
	}
	for k := len(out.Messages) - 1; k >= 0; k-- {
		m := out.Messages[k]
		if m.Role != converse.RoleAssistant {
			continue
		}
		if len(m.Content) == 0 || m.Content[0].ReasoningContent != nil {
			return nil
		}
		for _, b := range m.Content {
			if b.ToolUse != nil {
				return refuser(targetConverse).because("reasoning_effort", unsignedToolTurnReason)
			}
		}
		return nil
	}
	return nil
}
