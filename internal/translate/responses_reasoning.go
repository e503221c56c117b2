package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// Claude checks the signature of its earlier reasoning and, with thinking
// on, requires the reasoning of a tool-use turn to come back with the tool
// results. Chat Completions has no place for signatures, but the Responses
// API has one: a reasoning item's encrypted_content, which clients that
// store nothing (store false) send back with the conversation. Meridian
// puts Claude's reasoning blocks there, text and signature or redacted
// data, as "meridian.r1." and the base64 of a JSON list, when the request's
// include asks for "reasoning.encrypted_content". Nothing is encrypted:
// the signature is what protects the text from edits, as on Anthropic's
// API.
//
// A Responses request travels as a Chat Completions body (to the
// deployment, locally or over the link), so that body carries the
// reasoning: when the request enables reasoning, a reasoning input item's
// blocks ride, in the same encoding, as the reasoning_content of the
// assistant message that the next assistant item (a message or a
// function_call) lands in. The translators from Chat Completions to
// Converse and Anthropic (Request, and the Responses ones, which share
// it) put them back as reasoningContent or thinking blocks at the start of
// that assistant turn (restoreConverse, restoreAnthropic) when the Chat
// body enables reasoning (reasoning_effort set and not none); an OpenAI
// deployment takes no reasoning input, and WithoutCarriedReasoning removes
// them from its body on the same condition (internal/backend/openai.go).
// Without reasoning on, a reasoning_content is the client's own reasoning
// text, left out toward Converse and Anthropic and passed as it is to an
// OpenAI deployment, with or without the prefix. Reasoning items without
// such content, or in a request that does not enable reasoning, are
// dropped. Content with the prefix that does not decode is refused, with
// a 400 naming it: input[i].encrypted_content in a Responses request
// (whether or not it enables reasoning), messages[i].reasoning_content in
// a Chat body that enables reasoning. Left out, Claude would refuse a
// tool-use turn that does not start with its thinking, naming its own
// message numbers.

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

// badReasoning is why a value with the prefix that does not decode is
// refused: left out, Claude would answer a tool-use turn with thinking on
// by refusing a turn that does not start with a thinking block, and name
// its own message numbers.
const badReasoning = "begins with " + reasoningPrefix + " but is not reasoning Meridian returned (it does not decode); send back the value Meridian returned, unchanged"

// decodeReasoning decodes s when it carries Claude's reasoning (begins
// with the prefix; carried is false and err nil when it does not). err is
// set when s has the prefix but is not the base64url of a non-empty JSON
// list of blocks, each either a text (with its signature) or redacted data
// in standard base64 (as both Anthropic's data and Converse's bytes are),
// so that Converse and Anthropic refuse the same values.
func decodeReasoning(s string) (blocks []carriedReasoning, carried bool, err error) {
	rest, ok := strings.CutPrefix(s, reasoningPrefix)
	if !ok {
		return nil, false, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, true, err
	}
	if err := json.Unmarshal(b, &blocks); err != nil {
		return nil, true, err
	}
	if len(blocks) == 0 {
		return nil, true, errors.New("no reasoning blocks")
	}
	for _, c := range blocks {
		if c.Redacted == "" {
			continue
		}
		if c.Text != "" || c.Signature != "" {
			return nil, true, errors.New("a block both redacted and not")
		}
		if _, err := base64.StdEncoding.DecodeString(c.Redacted); err != nil {
			return nil, true, err
		}
	}
	return blocks, true, nil
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

// pendingReasoning is reasoning to put back into the assistant turn of
// chat message at.
type pendingReasoning struct {
	at     int
	blocks []carriedReasoning
}

// carriedIn returns the reasoning that req's assistant messages carry in
// reasoning_content, when req enables reasoning (thinks: reasoning_effort
// set and not none); a value with the prefix that does not decode is then
// refused at messages[i].reasoning_content, as r. Without reasoning on, a
// reasoning_content is the client's own reasoning text, left out as any
// other (Claude takes no earlier reasoning then, and on Anthropic's API
// earlier turns' thinking never reaches the model), the same condition on
// which an OpenAI deployment's pass-through body keeps it
// (internal/backend/openai.go).
func carriedIn(r refuser, req *openai.ChatCompletionRequest) ([]pendingReasoning, error) {
	if !thinks(req) {
		return nil, nil
	}
	var out []pendingReasoning
	for i, m := range req.Messages {
		if m.Role != openai.RoleAssistant || m.ReasoningContent == nil {
			continue
		}
		blocks, carried, err := decodeReasoning(*m.ReasoningContent)
		switch {
		case err != nil:
			// The client's mistake, whatever the destination: an OpenAI
			// one refuses it too (StripCarriedReasoning).
			return nil, invalid(at("messages", i)+".reasoning_content", badReasoning)
		case carried:
			out = append(out, pendingReasoning{at: i, blocks: blocks})
		}
	}
	return out, nil
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

// restoreAnthropic puts the reasoning req carries back into out, req's
// translation, at the start of the assistant turns it belongs to; a
// carried value that does not decode is refused (carriedIn).
func restoreAnthropic(req *openai.ChatCompletionRequest, out *anthropic.Request) error {
	carried, err := carriedIn(targetAnthropic, req)
	if err != nil || len(carried) == 0 {
		return err
	}
	roles := make([]string, len(out.Messages))
	for i, m := range out.Messages {
		roles[i] = m.Role
	}
	placeCarried(req, carried, roles, anthropic.RoleAssistant, func(k, at int, cs []carriedReasoning) {
		blocks := make([]anthropic.Block, 0, len(cs))
		for _, b := range cs {
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
		m.Content.Blocks = slices.Insert(m.Content.Blocks, at, blocks...)
	})
	return nil
}

// restoreConverse puts the reasoning req carries back into out, req's
// translation, at the start of the assistant turns it belongs to; a
// carried value that does not decode is refused (carriedIn).
func restoreConverse(req *openai.ChatCompletionRequest, out *converse.Request) error {
	carried, err := carriedIn(targetConverse, req)
	if err != nil || len(carried) == 0 {
		return err
	}
	roles := make([]string, len(out.Messages))
	for i, m := range out.Messages {
		roles[i] = m.Role
	}
	placeCarried(req, carried, roles, converse.RoleAssistant, func(k, at int, cs []carriedReasoning) {
		blocks := make([]converse.ContentBlock, 0, len(cs))
		for _, b := range cs {
			rc := &converse.ReasoningContent{}
			if b.Redacted != "" {
				// Standard base64: decodeReasoning checked it.
				rc.RedactedContent, _ = base64.StdEncoding.DecodeString(b.Redacted)
			} else {
				rc.ReasoningText = &converse.ReasoningText{Text: b.Text, Signature: b.Signature}
			}
			blocks = append(blocks, converse.ContentBlock{ReasoningContent: rc})
		}
		m := &out.Messages[k]
		m.Content = slices.Insert(m.Content, at, blocks...)
	})
	return nil
}

// placeCarried is the walk restoreAnthropic and restoreConverse share: for
// each carried reasoning, the index k of the translated assistant message
// (roles are the translation's, assistant its assistant role) of the turn
// it belongs to, and where in that message's content it goes (after the
// reasoning put there before, so that several reasoning items keep their
// order); put inserts the blocks there.
func placeCarried(req *openai.ChatCompletionRequest, carried []pendingReasoning, roles []string, assistant string, put func(k, at int, blocks []carriedReasoning)) {
	inserted := map[int]int{}
	for _, p := range carried {
		turn, ok := assistantTurn(req.Messages, p.at)
		if !ok {
			continue
		}
		k := nthRole(turn, roles, assistant)
		if k < 0 {
			continue
		}
		put(k, inserted[k], p.blocks)
		inserted[k] += len(p.blocks)
	}
}

// carriedMarker is how a carried reasoning_content begins in a JSON body
// when the string is written without escapes; escapedMarker is what any
// other spelling of the prefix holds (its characters have no short escape,
// so an escaped one is a \u escape).
var (
	carriedMarker = []byte(`"` + reasoningPrefix)
	escapedMarker = []byte(`\u`)
)

// mayCarry reports whether body may carry reasoning: the prefix at the
// start of a string as written, or an escape anywhere, which the members'
// decoded values must then be read for ("meridian\u002er1." is the
// prefix to a decoder, and so to the translators).
func mayCarry(body []byte) bool {
	return bytes.Contains(body, carriedMarker) || bytes.Contains(body, escapedMarker)
}

// CarriesReasoning reports whether a Chat Completions body carries
// Claude's reasoning (see above): a message's reasoning_content, decoded,
// begins with the prefix, as the translators read it. A body without the
// prefix or an escape costs one scan; one with either is read.
func CarriesReasoning(body []byte) bool {
	if !mayCarry(body) {
		return false
	}
	carries := false
	_ = eachCarried(body, func(int, string, bool) error {
		carries = true
		return errStop
	})
	return carries
}

// errStop ends a walk early.
var errStop = errors.New("stop")

// eachCarried calls fn for each message of body (at index i) whose
// reasoning_content, decoded, begins with the prefix, with that value.
// ambiguous is set when the message names the member more than once, or
// in another case (which encoding/json, and so the translators, read as
// the same member): which copy a reader takes is then unclear, and the
// caller refuses it rather than edit one copy. It stops at fn's first
// error and returns it; a body it cannot read is no error (the
// translators refuse it).
func eachCarried(body []byte, fn func(i int, value string, ambiguous bool) error) error {
	var lists [][]byte
	exactList := true
	if jsonx.Members(body, func(k, v []byte) error {
		if match, exact := keyFold(k, "messages"); match {
			lists = append(lists, v)
			exactList = exactList && exact
		}
		return nil
	}) != nil {
		return nil
	}
	var fnErr error // fn's, not the scanner's: a body it cannot read is no error
	visit := func(i int, value string, ambiguous bool) error {
		fnErr = fn(i, value, ambiguous)
		return fnErr
	}
	for _, msgs := range lists {
		if eachCarriedIn(msgs, len(lists) > 1 || !exactList, visit) != nil {
			break
		}
	}
	if fnErr == errStop {
		return nil
	}
	return fnErr
}

// keyFold reports whether the raw key (as jsonx.Members gives it) names
// want in any case, as encoding/json matches it, and whether exactly; it
// allocates only for a key written with escapes.
func keyFold(raw []byte, want string) (match, exact bool) {
	if len(raw) < 2 {
		return false, false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		k, err := jsonx.Key(raw)
		return err == nil && strings.EqualFold(k, want), err == nil && k == want
	}
	return bytes.EqualFold(inner, []byte(want)), string(inner) == want
}

// eachCarriedIn is eachCarried for one list of messages; ambiguous says
// the body names its messages more than once or in another case.
func eachCarriedIn(msgs []byte, ambiguous bool, fn func(i int, value string, ambiguous bool) error) error {
	i := -1
	return jsonx.Elements(msgs, func(m []byte) error {
		i++
		value, carries, copies, exact := "", false, 0, true
		if jsonx.Members(m, func(k, v []byte) error {
			match, exactKey := keyFold(k, "reasoning_content")
			if !match {
				return nil
			}
			copies++
			exact = exact && exactKey
			if s, ok := jsonx.String(v); ok && strings.HasPrefix(s, reasoningPrefix) {
				value, carries = s, true
			}
			return nil
		}) != nil || !carries {
			return nil
		}
		return fn(i, value, ambiguous || copies > 1 || !exact)
	})
}

// ambiguousCarried is why a carried reasoning_content that a message
// names more than once or in another case is refused.
const ambiguousCarried = "named more than once or in another case: JSON readers disagree on which copy counts"

// checkCarried is the one rule both kinds of deployment apply to the
// reasoning a Chat Completions body that enables reasoning carries: the
// messages (by index) that carry some, or the *InvalidError naming the
// first messages[i].reasoning_content that is named more than once or in
// another case (ambiguous, see eachCarried) or does not decode. An OpenAI
// deployment's pass-through body is checked by StripCarriedReasoning, a
// translated one by Request, so the same body gets the same answer
// whichever deployment serves it (the typed decode the translators read
// takes the last copy and would otherwise serve what the OpenAI one
// refuses).
func checkCarried(body []byte) (map[int]bool, error) {
	if !mayCarry(body) {
		return nil, nil
	}
	var strip map[int]bool
	err := eachCarried(body, func(i int, value string, ambiguous bool) error {
		p := at("messages", i) + ".reasoning_content"
		if ambiguous {
			return invalid(p, ambiguousCarried)
		}
		if _, _, err := decodeReasoning(value); err != nil {
			return invalid(p, badReasoning)
		}
		if strip == nil {
			strip = map[int]bool{}
		}
		strip[i] = true
		return nil
	})
	return strip, err
}

// WithoutCarriedReasoning is StripCarriedReasoning without its refusal: a
// body whose carried reasoning does not decode is returned as it is.
func WithoutCarriedReasoning(body []byte) []byte {
	out, err := StripCarriedReasoning(body)
	if err != nil {
		return body
	}
	return out
}

// StripCarriedReasoning returns a Chat Completions body without the
// reasoning_content members that carry Claude's reasoning (see above), for
// a deployment that speaks Chat Completions, which takes no reasoning
// input: body itself when it has none (found by one scan for the prefix
// and for escapes), else body with those members removed and every other
// member as it was (only whitespace between messages goes). A carried
// value that does not decode is refused with an *InvalidError naming
// messages[i].reasoning_content, as the translations to Converse and
// Anthropic refuse it (carriedIn), rather than removed in silence; so is
// a message that carries one but names the member twice or in another
// case, where removing one copy could leave the other. A body
// it cannot read is returned as it is. The OpenAI backend calls it only
// for a body that enables reasoning (the condition on which the other
// dialects restore carried reasoning), so that other chat bodies skip the
// scan.
func StripCarriedReasoning(body []byte) ([]byte, error) {
	if !mayCarry(body) {
		return body, nil
	}
	strip, err := checkCarried(body)
	if err != nil {
		return nil, err
	}
	if len(strip) == 0 {
		return body, nil
	}
	var msgs []byte
	_ = jsonx.Members(body, func(k, v []byte) error {
		if jsonx.KeyIs(k, "messages") {
			msgs = v
		}
		return nil
	})
	out := make([]byte, 0, len(msgs))
	out = append(out, '[')
	i := -1
	err = jsonx.Elements(msgs, func(m []byte) error {
		i++
		if len(out) > 1 {
			out = append(out, ',')
		}
		if !strip[i] {
			out = append(out, m...)
			return nil
		}
		stripped, err := jsonx.DeleteMember(m, "reasoning_content")
		if err != nil {
			return err
		}
		out = append(out, stripped...)
		return nil
	})
	if err != nil {
		return body, nil
	}
	out = append(out, ']')
	res, err := jsonx.SetMember(body, "messages", out)
	if err != nil {
		return body, nil
	}
	return res, nil
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
