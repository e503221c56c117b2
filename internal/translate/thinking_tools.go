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

// The same need gives the other half of the rule: Claude checks the
// signature of every piece of reasoning it is sent, earlier turns'
// included, and refuses one without (its own 400 names its message
// numbers, not the member the client sent). Reasoning another model wrote
// has none: an OpenAI-compatible deployment's reasoning_content reaches an
// Anthropic client as a thinking block with an empty signature (the
// Messages schema requires the member; Anthropic has no form for unsigned
// reasoning) and a Converse client as reasoningText without one. Sent back
// toward Claude in a request Meridian translates, such a block is refused
// naming the member that holds it (a thinking block's signature, a
// reasoningText's signature, a carried reasoning_content), saying what
// works, rather than left out: the client sent it. A body that passes
// through to Claude unchanged (an Anthropic body to a Claude deployment
// on Bedrock, Converse to Converse) is not read for it; Claude's own 400
// answers it. Toward a model other than Claude the block is served as the
// translations define (no signature is checked there).

// unsignedReasoningReason says what works instead of reasoning without
// Claude's signature, in words that fit every client API.
const unsignedReasoningReason = "Claude checks the signature of all reasoning it is sent, earlier turns' included, and this reasoning has none (another model wrote it): " +
	"leave it out of the conversation (with reasoning on, a turn that called a tool then needs reasoning turned off in the requests that carry its results)"

// refuseUnsignedCarried refuses the carried reasoning of req (see
// responses_reasoning.go) that holds a thinking text without a signature,
// for a translation to Claude, naming messages[i].reasoning_content.
func refuseUnsignedCarried(r refuser, req *openai.ChatCompletionRequest) error {
	carried, err := carriedIn(r, req)
	if err != nil {
		return err
	}
	for _, p := range carried {
		for _, b := range p.blocks {
			if b.Redacted == "" && b.Signature == "" {
				return r.because(at("messages", p.at)+".reasoning_content", unsignedReasoningReason)
			}
		}
	}
	return nil
}

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
// req, when req carries reasoning without a signature, or when out enables
// thinking and its last assistant turn calls a tool without starting with
// thinking (see above).
func refuseUnsignedToolTurnAnthropic(req *openai.ChatCompletionRequest, out *anthropic.Request) error {
	if err := refuseUnsignedCarried(refuser(targetAnthropic), req); err != nil {
		return err
	}
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
	if err := refuseUnsignedCarried(refuser(targetConverse), req); err != nil {
		return err
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
