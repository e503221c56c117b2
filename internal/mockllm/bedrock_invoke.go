package mockllm

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/bedrockmodel"
)

// This file reads InvokeModel bodies in the shape of the model family the
// model id names, as Bedrock documents each family's InvokeModel request
// and response: Amazon Titan Text, Mistral (prompt completions), Meta
// Llama, Amazon Nova (messages-v1, the shape of Converse), Cohere Command R
// (bedrock_cohere.go) and Anthropic Messages. It also holds what each family takes in Converse's
// additionalModelRequestFields, so that another family's member is
// refused as Bedrock refuses it (a ValidationException).

// invokeShape is the InvokeModel request and response shape of a model.
type invokeShape int

const (
	shapeAnthropic    invokeShape = iota // Anthropic Messages (Claude, and the simulator's own model names)
	shapeLlama                           // Meta Llama: prompt, max_gen_len → generation
	shapeTitanText                       // Amazon Titan Text: inputText, textGenerationConfig → results
	shapeMistral                         // Mistral: prompt, max_tokens → outputs
	shapeNova                            // Amazon Nova: messages-v1 (Converse's shape) → output.message
	shapeMistralChat                     // Mistral chat completion (Mistral Large 2): messages, max_tokens → choices
	shapeCohereChat                      // Cohere Command R, R+: message, chat_history → text, generation_id, chat_history
	shapeConverseBody                    // not InvokeModel: a Converse request
)

// claudeLike reports whether the simulator answers model as Claude: an
// Anthropic model, an id naming no provider, or a topology's own name
// ("demo.chat"), as internal/schema/bedrockmodel's SimulatorFamily says
// (the classifier Meridian's translator and capability defaults share).
func claudeLike(model string) bool { return bedrockmodel.SimulatorFamily(model) == bedrockmodel.Claude }

// invokeShapeOf returns the InvokeModel shape of a body sent to model: the
// model id's family (a Mistral model's chat-completion body, with
// messages and no prompt, is the chat shape Mistral Large 2 takes), or for
// a model of no known family (the simulator's own names) an Anthropic body
// when it has messages and a Llama prompt otherwise.
func invokeShapeOf(model string, body []byte) invokeShape {
	m := bedrockmodel.Parse(model)
	switch {
	case m.Provider == "amazon" && strings.HasPrefix(m.Name, "nova-"):
		return shapeNova
	case m.Provider == "amazon" && (strings.HasPrefix(m.Name, "titan-text") || strings.HasPrefix(m.Name, "titan-tg1")):
		return shapeTitanText
	case m.Provider == "mistral":
		var b struct {
			Prompt   json.RawMessage `json:"prompt"`
			Messages json.RawMessage `json:"messages"`
		}
		if json.Unmarshal(body, &b) == nil && b.Prompt == nil && b.Messages != nil {
			return shapeMistralChat
		}
		return shapeMistral
	case m.Provider == "meta":
		return shapeLlama
	case m.Provider == "cohere" && strings.HasPrefix(m.Name, "command-r"):
		return shapeCohereChat
	}
	if strings.Contains(string(body), `"messages"`) {
		return shapeAnthropic
	}
	return shapeLlama
}

// decodeTitanText reads an Amazon Titan Text InvokeModel body.
func decodeTitanText(model string, body []byte) (*bedrockRequest, error) {
	var t struct {
		InputText            *string `json:"inputText"`
		TextGenerationConfig *struct {
			MaxTokenCount *int     `json:"maxTokenCount"`
			StopSequences []string `json:"stopSequences"`
			Temperature   *float64 `json:"temperature"`
			TopP          *float64 `json:"topP"`
		} `json:"textGenerationConfig"`
	}
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, err
	}
	if t.InputText == nil || *t.InputText == "" {
		return nil, jsonError("required key [inputText] not found")
	}
	r := &bedrockRequest{chat: chatRequest{Model: model, Messages: []chatMessage{{Role: "user", Content: textContent{parts: []string{*t.InputText}}}}}}
	if c := t.TextGenerationConfig; c != nil {
		if c.MaxTokenCount != nil && *c.MaxTokenCount < 0 {
			return nil, jsonError("textGenerationConfig.maxTokenCount must be at least 0")
		}
		r.chat.MaxTokens, r.chat.Stop = c.MaxTokenCount, c.StopSequences
	}
	return r, nil
}

// decodeMistral reads a Mistral InvokeModel body (a text completion).
func decodeMistral(model string, body []byte) (*bedrockRequest, error) {
	var m struct {
		Prompt    *string  `json:"prompt"`
		MaxTokens *int     `json:"max_tokens"`
		Stop      []string `json:"stop"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	if m.Prompt == nil || *m.Prompt == "" {
		return nil, jsonError("required key [prompt] not found")
	}
	if m.MaxTokens != nil && *m.MaxTokens < 1 {
		return nil, jsonError("max_tokens must be at least 1")
	}
	return &bedrockRequest{chat: chatRequest{Model: model, MaxTokens: m.MaxTokens, Stop: m.Stop,
		Messages: []chatMessage{{Role: "user", Content: textContent{parts: []string{*m.Prompt}}}}}}, nil
}

// decodeMistralChat reads a Mistral chat-completion InvokeModel body (the
// one Mistral Large 2 (24.07) takes): messages of a role and string
// content (tool turns with tool_calls, tool_call_id), tools, tool_choice,
// max_tokens, temperature, top_p.
func decodeMistralChat(model string, body []byte) (*bedrockRequest, error) {
	var m struct {
		Messages []struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"messages"`
		MaxTokens *int `json:"max_tokens"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, err
	}
	if len(m.Messages) == 0 {
		return nil, jsonError("required key [messages] not found")
	}
	if m.MaxTokens != nil && *m.MaxTokens < 1 {
		return nil, jsonError("max_tokens must be at least 1")
	}
	r := &bedrockRequest{chat: chatRequest{Model: model, MaxTokens: m.MaxTokens}}
	for i, msg := range m.Messages {
		switch msg.Role {
		case "system", "user", "assistant", "tool":
		default:
			return nil, jsonError("messages[" + strconv.Itoa(i) + "].role must be system, user, assistant or tool")
		}
		var text string
		if msg.Content != nil {
			text = *msg.Content
		}
		r.chat.Messages = append(r.chat.Messages, chatMessage{Role: msg.Role, Content: textContent{parts: []string{text}}})
	}
	return r, nil
}

// decodeNova reads an Amazon Nova InvokeModel body: messages-v1, the
// shape of a Converse body (messages of content blocks, system,
// inferenceConfig with maxTokens, toolConfig), with an optional
// schemaVersion.
func decodeNova(model string, body []byte) (*bedrockRequest, error) {
	var v struct {
		SchemaVersion *string `json:"schemaVersion"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	if v.SchemaVersion != nil && *v.SchemaVersion != "messages-v1" {
		return nil, jsonError("schemaVersion must be messages-v1")
	}
	return decodeConverse(model, body)
}

// checkNovaEffort refuses Amazon Nova's maxReasoningEffort high with a
// token limit, as Bedrock does: Nova requires inferenceConfig.maxTokens
// unset when maxReasoningEffort is high (low and medium take it).
func checkNovaEffort(reasoning json.RawMessage, maxTokens *int) error {
	if len(reasoning) == 0 || maxTokens == nil {
		return nil
	}
	var rc struct {
		Type   string `json:"type"`
		Effort string `json:"maxReasoningEffort"`
	}
	if json.Unmarshal(reasoning, &rc) == nil && rc.Type == "enabled" && rc.Effort == "high" {
		return jsonError("reasoningConfig.maxReasoningEffort high does not take inferenceConfig.maxTokens; leave maxTokens unset")
	}
	return nil
}

// checkModelFields refuses a member of Converse's
// additionalModelRequestFields that model's family does not take, as
// Bedrock does (the model refuses the extraneous key): Claude's thinking
// and anthropic_beta for any other family; top_k for any but Claude and
// the Mistral models whose parameters list it; the reasoningConfig of
// Amazon Nova 2 Lite for any other model; Nova's inferenceConfig for any
// model but Nova; gpt-oss's reasoning_effort for any other model. The
// family is internal/schema/bedrockmodel's, as Meridian's translator reads
// it.
func checkModelFields(model string, fields map[string]json.RawMessage) error {
	f := bedrockmodel.SimulatorFamily(model)
	for _, k := range []string{"thinking", "top_k", "anthropic_beta", "reasoningConfig", "inferenceConfig", "reasoning_effort"} {
		if _, ok := fields[k]; !ok {
			continue
		}
		var takes bool
		switch k {
		case "thinking", "anthropic_beta":
			takes = f == bedrockmodel.Claude
		case "top_k":
			takes = f == bedrockmodel.Claude || f == bedrockmodel.MistralTopK
		case "reasoningConfig":
			takes = f == bedrockmodel.NovaReasoning
		case "inferenceConfig":
			takes = f == bedrockmodel.Nova || f == bedrockmodel.NovaReasoning
		case "reasoning_effort":
			takes = f == bedrockmodel.GPTOSS
		}
		if !takes {
			return jsonError("extraneous key [" + k + "] is not permitted")
		}
	}
	return nil
}

// promptFamily reports whether the answer is a prompt completion, streamed
// as one chunk per token: Llama, Titan Text, Mistral.
func (g *bedrockGeneration) promptFamily() bool {
	return g.shape == shapeLlama || g.shape == shapeTitanText || g.shape == shapeMistral || g.shape == shapeMistralChat || g.shape == shapeCohereChat
}

// stopWord is the answer's stop reason in a prompt family's words.
func (g *bedrockGeneration) stopWord() string {
	length := g.c.finish == finishLength
	switch g.shape {
	case shapeTitanText:
		switch {
		case length:
			return "LENGTH"
		case g.c.stopSeq != "":
			return "STOP_CRITERIA_MET"
		}
		return "FINISH"
	}
	if length {
		return "length"
	}
	return "stop"
}

// familyBody returns the non-streamed InvokeModel answer of a Titan Text,
// Mistral or Nova model (content: the answer's Converse content blocks),
// or nil for the other shapes, with the token count headers Bedrock sets
// on InvokeModel answers.
func (g *bedrockGeneration) familyBody(h interface{ Set(k, v string) }, n int, content []any) any {
	var body any
	switch g.shape {
	case shapeTitanText:
		body = map[string]any{"inputTextTokenCount": g.prompt, "results": []any{map[string]any{"tokenCount": n, "outputText": g.text(), "completionReason": g.stopWord()}}}
	case shapeMistral:
		body = map[string]any{"outputs": []any{map[string]any{"text": g.text(), "stop_reason": g.stopWord()}}}
	case shapeMistralChat:
		body = map[string]any{"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": g.text()}, "stop_reason": g.stopWord()}}}
	case shapeCohereChat:
		body = g.cohereResponse()
	case shapeNova:
		body = map[string]any{"output": map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
			"stopReason": g.stopReason(), "usage": g.novaUsage(n)}
	default:
		return nil
	}
	h.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(g.prompt))
	h.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(g.outputTokens(n)))
	return body
}

// novaUsage is a Nova InvokeModel answer's usage: Converse's (AWS's Nova
// response structure is the same for Converse and InvokeModel, usage with
// inputTokens, outputTokens and totalTokens; the cache counts keep the
// names of Bedrock's TokenUsage, cacheReadInputTokens and
// cacheWriteInputTokens, as the streamed metadata chunk has them).
func (g *bedrockGeneration) novaUsage(n int) map[string]int { return g.usage(n) }

// invocationMetrics is what Bedrock adds to the last chunk of an
// InvokeModel stream.
func (g *bedrockGeneration) invocationMetrics(out int) map[string]any {
	return map[string]any{"inputTokenCount": g.prompt, "outputTokenCount": out,
		"invocationLatency": g.s.clock.Now().Sub(g.start).Milliseconds(), "firstByteLatency": 1}
}

// promptChunk is chunk i (of token t) of a prompt family's stream of n
// tokens; the last carries the stop reason and the invocation metrics.
func (g *bedrockGeneration) promptChunk(i int, t string, n int) map[string]any {
	last := i == n-1
	var ev map[string]any
	switch g.shape {
	case shapeTitanText:
		ev = map[string]any{"outputText": t, "index": 0, "totalOutputTextTokenCount": i + 1, "completionReason": nil}
		if i == 0 {
			ev["inputTextTokenCount"] = g.prompt
		}
		if last {
			ev["completionReason"] = g.stopWord()
		}
	case shapeMistral:
		out := map[string]any{"text": t, "stop_reason": nil}
		if last {
			out["stop_reason"] = g.stopWord()
		}
		ev = map[string]any{"outputs": []any{out}}
	case shapeMistralChat:
		ch := map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": t}, "stop_reason": nil}
		if last {
			ch["stop_reason"] = g.stopWord()
		}
		ev = map[string]any{"choices": []any{ch}}
	default:
		ev = map[string]any{"generation": t, "prompt_token_count": nil, "generation_token_count": i + 1, "stop_reason": nil}
		if i == 0 {
			ev["prompt_token_count"] = g.prompt
		}
		if last {
			ev["stop_reason"] = g.llamaStop()
		}
	}
	if last {
		ev["amazon-bedrock-invocationMetrics"] = g.invocationMetrics(n)
	}
	return ev
}

// novaChunk wraps a Converse stream event (type typ, payload b) as a Nova
// InvokeModel stream chunk, {"<type>": payload}; the last one (metadata)
// carries the invocation metrics.
func (g *bedrockGeneration) novaChunk(typ string, b []byte) []byte {
	m := map[string]any{typ: json.RawMessage(b)}
	if typ == "metadata" {
		var md struct {
			Usage map[string]int `json:"usage"`
		}
		json.Unmarshal(b, &md)
		m["amazon-bedrock-invocationMetrics"] = g.invocationMetrics(md.Usage["outputTokens"])
	}
	out, _ := json.Marshal(m)
	return out
}
