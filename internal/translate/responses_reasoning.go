package translate

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// Claude checks the signature of its earlier reasoning and, with thinking
// on, requires the reasoning of a tool-use turn to come back with the tool
// results. Chat Completions has no place for signatures, but the Responses
// API has one: a reasoning item's encrypted_content, which clients that
// store nothing (store false) send back with the conversation. Meridian
// puts Claude's reasoning blocks there, text and signature or redacted
// data, as "meridian.r1." and the base64 of a JSON list, when the request's
// include asks for "reasoning.encrypted_content"; a reasoning input item
// carrying such content becomes those blocks again at the start of the
// assistant turn that follows it, when the request enables reasoning.
// Reasoning items without it are dropped. Nothing is encrypted: the
// signature is what protects the text from edits, as on Anthropic's API.

const reasoningPrefix = "meridian.r1."

// carriedReasoning is one reasoning block of Claude, Anthropic or Converse.
type carriedReasoning struct {
	Text      string `json:"t,omitempty"`
	Signature string `json:"s,omitempty"`
	Redacted  string `json:"r,omitempty"` // Anthropic data, or base64 of Converse redactedContent
}

func encodeReasoning(blocks []carriedReasoning) string {
	if len(blocks) == 0 {
		return ""
	}
	b, _ := json.Marshal(blocks)
	return reasoningPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodeReasoning(s string) ([]carriedReasoning, bool) {
	rest, ok := strings.CutPrefix(s, reasoningPrefix)
	if !ok {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, false
	}
	var blocks []carriedReasoning
	if json.Unmarshal(b, &blocks) != nil || len(blocks) == 0 {
		return nil, false
	}
	return blocks, true
}

// wantsEncrypted reports whether req asked for reasoning encrypted_content.
func wantsEncrypted(req *openai.ResponsesRequest) bool {
	if req == nil {
		return false
	}
	for _, inc := range req.Include {
		if inc == "reasoning.encrypted_content" {
			return true
		}
	}
	return false
}

// pendingReasoning is reasoning to put back before chat message index at
// (the next assistant message at or after it).
type pendingReasoning struct {
	at     int
	blocks []carriedReasoning
}

// assistantTurn returns the ordinal (0-based) of the assistant turn that
// chat message at or after index at belongs to, counting runs of
// consecutive assistant messages as the target dialects merge them; ok is
// false when no assistant message follows.
func assistantTurn(msgs []openai.Message, at int) (int, bool) {
	turn, prev := -1, ""
	for i, m := range msgs {
		if m.Role == openai.RoleSystem || m.Role == openai.RoleDeveloper {
			continue
		}
		if m.Role == openai.RoleAssistant && prev != openai.RoleAssistant {
			turn++
		}
		prev = m.Role
		if prev == openai.RoleTool {
			prev = openai.RoleUser
		}
		if i >= at && m.Role == openai.RoleAssistant {
			return turn, true
		}
	}
	return 0, false
}

// nthRole returns the index of the n-th (0-based) message of role.
func nthRole(n int, roles []string, role string) int {
	for i, r := range roles {
		if r == role {
			if n == 0 {
				return i
			}
			n--
		}
	}
	return -1
}

// restoreAnthropic puts carried reasoning back into the assistant turns.
func (pv *chatPivot) restoreAnthropic(out *anthropic.Request) {
	if pv.req.ReasoningEffort == "" {
		return
	}
	roles := make([]string, len(out.Messages))
	for i, m := range out.Messages {
		roles[i] = m.Role
	}
	inserted := map[int]int{}
	for _, p := range pv.reasoning {
		turn, ok := assistantTurn(pv.req.Messages, p.at)
		if !ok {
			continue
		}
		k := nthRole(turn, roles, anthropic.RoleAssistant)
		if k < 0 {
			continue
		}
		var blocks []anthropic.Block
		for _, b := range p.blocks {
			if b.Redacted != "" {
				blocks = append(blocks, anthropic.Block{Type: anthropic.BlockRedactedThinking, Data: b.Redacted})
			} else {
				blocks = append(blocks, anthropic.Block{Type: anthropic.BlockThinking, Thinking: b.Text, Signature: b.Signature})
			}
		}
		m := &out.Messages[k]
		if !m.Content.IsBlocks() {
			m.Content = anthropic.Content{Blocks: []anthropic.Block{{Type: anthropic.BlockText, Text: m.Content.Text}}}
		}
		at := inserted[k]
		m.Content.Blocks = append(m.Content.Blocks[:at], append(blocks, m.Content.Blocks[at:]...)...)
		inserted[k] = at + len(blocks)
	}
}

// restoreConverse puts carried reasoning back into the assistant turns.
func (pv *chatPivot) restoreConverse(out *converse.Request) {
	if pv.req.ReasoningEffort == "" {
		return
	}
	roles := make([]string, len(out.Messages))
	for i, m := range out.Messages {
		roles[i] = m.Role
	}
	inserted := map[int]int{}
	for _, p := range pv.reasoning {
		turn, ok := assistantTurn(pv.req.Messages, p.at)
		if !ok {
			continue
		}
		k := nthRole(turn, roles, converse.RoleAssistant)
		if k < 0 {
			continue
		}
		var blocks []converse.ContentBlock
		for _, b := range p.blocks {
			rc := &converse.ReasoningContent{}
			if b.Redacted != "" {
				data, err := base64.StdEncoding.DecodeString(b.Redacted)
				if err != nil {
					continue
				}
				rc.RedactedContent = data
			} else {
				rc.ReasoningText = &converse.ReasoningText{Text: b.Text, Signature: b.Signature}
			}
			blocks = append(blocks, converse.ContentBlock{ReasoningContent: rc})
		}
		m := &out.Messages[k]
		at := inserted[k]
		m.Content = append(m.Content[:at], append(blocks, m.Content[at:]...)...)
		inserted[k] = at + len(blocks)
	}
}

// anthropicReasoning returns the reasoning blocks of a Messages response.
func anthropicReasoning(blocks []anthropic.Block) []carriedReasoning {
	var out []carriedReasoning
	for _, b := range blocks {
		switch b.Type {
		case anthropic.BlockThinking:
			out = append(out, carriedReasoning{Text: b.Thinking, Signature: b.Signature})
		case anthropic.BlockRedactedThinking:
			out = append(out, carriedReasoning{Redacted: b.Data})
		}
	}
	return out
}

// converseReasoning returns the reasoning blocks of a Converse response.
func converseReasoning(resp *converse.Response) []carriedReasoning {
	var out []carriedReasoning
	if resp.Output.Message == nil {
		return nil
	}
	for _, b := range resp.Output.Message.Content {
		switch rc := b.ReasoningContent; {
		case rc == nil:
		case rc.ReasoningText != nil:
			out = append(out, carriedReasoning{Text: rc.ReasoningText.Text, Signature: rc.ReasoningText.Signature})
		case rc.RedactedContent != nil:
			out = append(out, carriedReasoning{Redacted: base64.StdEncoding.EncodeToString(rc.RedactedContent)})
		}
	}
	return out
}
