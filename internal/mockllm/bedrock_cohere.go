package mockllm

import (
	"encoding/json"
	"strconv"
)

// This file is Cohere Command R and Command R+ on InvokeModel, in the shape
// Bedrock documents for them (the Cohere Command R model parameters): a
// chat body (message, chat_history, preamble, max_tokens, temperature, p,
// k, stop_sequences, tools, documents, ...), an answer of text,
// generation_id, finish_reason and chat_history, and a stream of
// stream-start, text-generation and stream-end chunks.

// cohereTurn is a turn of a Command R chat_history.
type cohereTurn struct {
	Role    string `json:"role"`
	Message string `json:"message"`
}

// cohereChat is what a Command R answer repeats of its request: the
// conversation so far and the new message.
type cohereChat struct {
	history []cohereTurn
	message string
}

// decodeCohereChat reads a Cohere Command R chat body. message is
// required; chat_history turns are USER or CHATBOT (SYSTEM and TOOL, the
// roles Cohere's chat API also gives a history, are taken as well);
// preamble is the system prompt. Members the simulator does not act on
// (tools, tool_results, documents, search_queries_only, seed, ...) are
// accepted, as the model accepts them.
func decodeCohereChat(model string, body []byte) (*bedrockRequest, error) {
	var c struct {
		Message       *string      `json:"message"`
		ChatHistory   []cohereTurn `json:"chat_history"`
		Preamble      *string      `json:"preamble"`
		MaxTokens     *int         `json:"max_tokens"`
		StopSequences []string     `json:"stop_sequences"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, err
	}
	if c.Message == nil || *c.Message == "" {
		return nil, jsonError("required key [message] not found")
	}
	if c.MaxTokens != nil && *c.MaxTokens < 1 {
		return nil, jsonError("#/max_tokens: " + strconv.Itoa(*c.MaxTokens) + " is not greater or equal to 1")
	}
	r := &bedrockRequest{chat: chatRequest{Model: model, MaxTokens: c.MaxTokens, Stop: c.StopSequences},
		cohere: &cohereChat{history: c.ChatHistory, message: *c.Message}}
	if c.Preamble != nil && *c.Preamble != "" {
		r.chat.Messages = append(r.chat.Messages, chatMessage{Role: "system", Content: textContent{parts: []string{*c.Preamble}}})
	}
	for i, t := range c.ChatHistory {
		role := "user"
		switch t.Role {
		case "USER", "TOOL":
		case "CHATBOT":
			role = "assistant"
		case "SYSTEM":
			role = "system"
		default:
			return nil, jsonError("#/chat_history/" + strconv.Itoa(i) + "/role: " + strconv.Quote(clipEcho(t.Role)) + " is not a valid enum value (USER, CHATBOT, SYSTEM, TOOL)")
		}
		r.chat.Messages = append(r.chat.Messages, chatMessage{Role: role, Content: textContent{parts: []string{t.Message}}})
	}
	r.chat.Messages = append(r.chat.Messages, chatMessage{Role: "user", Content: textContent{parts: []string{*c.Message}}})
	return r, nil
}

// clipEcho bounds a caller's value quoted in an error.
func clipEcho(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// cohereFinish is the answer's finish_reason in Command R's words.
func (g *bedrockGeneration) cohereFinish() string {
	if g.c.finish == finishLength {
		return "MAX_TOKENS"
	}
	return "COMPLETE"
}

// cohereIDs are the answer's response_id and generation_id: opaque,
// deterministic.
func (g *bedrockGeneration) cohereIDs() (response, generation string) {
	id := strconv.FormatUint(g.id, 16)
	return "mock-response-" + id, "mock-generation-" + id
}

// cohereResponse is the non-streamed Command R answer: the text, its ids,
// the finish reason, and the chat history with the new message and the
// answer appended, as Command R returns it.
func (g *bedrockGeneration) cohereResponse() map[string]any {
	rid, gid := g.cohereIDs()
	c := g.breq.cohere
	history := make([]cohereTurn, 0, len(c.history)+2)
	history = append(history, c.history...)
	history = append(history, cohereTurn{Role: "USER", Message: c.message}, cohereTurn{Role: "CHATBOT", Message: g.text()})
	return map[string]any{"response_id": rid, "text": g.text(), "generation_id": gid, "chat_history": history, "finish_reason": g.cohereFinish()}
}

// cohereStart is the first chunk of a Command R stream.
func (g *bedrockGeneration) cohereStart() map[string]any {
	_, gid := g.cohereIDs()
	return map[string]any{"is_finished": false, "event_type": "stream-start", "generation_id": gid}
}

// cohereText is a text-generation chunk of a Command R stream.
func cohereText(t string) map[string]any {
	return map[string]any{"is_finished": false, "event_type": "text-generation", "text": t}
}

// cohereEnd is the last chunk of a Command R stream of n tokens: the
// finish reason and the whole answer, with the invocation metrics Bedrock
// adds to a stream's last chunk.
func (g *bedrockGeneration) cohereEnd(n int) map[string]any {
	return map[string]any{"is_finished": true, "event_type": "stream-end", "finish_reason": g.cohereFinish(), "response": g.cohereResponse(),
		"amazon-bedrock-invocationMetrics": g.invocationMetrics(n)}
}
