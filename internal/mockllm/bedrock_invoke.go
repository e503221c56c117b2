package mockllm

import (
	"encoding/json"
	"strconv"
	"strings"
)

// This file reads InvokeModel bodies in the shape of the model family the
// model id names, as Bedrock documents each family's InvokeModel request
// and response: Amazon Titan Text, Mistral (prompt completions), Meta
// Llama, Amazon Nova (messages-v1, the shape of Converse) and Anthropic
// Messages. It also holds what each family takes in Converse's
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
	shapeConverseBody                    // not InvokeModel: a Converse request
)

// bedrockProviders are the Bedrock providers other than Anthropic, as a
// model id names them ("mistral.mistral-large-2402-v1:0",
// "eu.meta.llama3-2-1b-instruct-v1:0").
var bedrockProviders = []string{"amazon.", "meta.", "mistral.", "cohere.", "ai21.", "deepseek.", "qwen.", "openai.", "writer.", "twelvelabs.",
	"google.", "nvidia.", "minimax.", "moonshot.", "stability."}

// modelIs reports whether a model id (a foundation model id, an inference
// profile id or an ARN) names a model of provider prefix p ("mistral.").
func modelIs(model, p string) bool {
	return strings.HasPrefix(model, p) || strings.Contains(model, "."+p) || strings.Contains(model, "/"+p)
}

// claudeLike reports whether the simulator answers model as Claude: an
// Anthropic model, or a name of no other provider (a topology's own, such
// as "demo.chat").
func claudeLike(model string) bool {
	if strings.Contains(model, "anthropic.") || strings.Contains(model, "claude") {
		return true
	}
	for _, p := range bedrockProviders {
		if modelIs(model, p) {
			return false
		}
	}
	return true
}

// invokeShapeOf returns the InvokeModel shape of a body sent to model: the
// model id's family, or for a model of no known family (the simulator's
// own names) an Anthropic body when it has messages and a Llama prompt
// otherwise.
func invokeShapeOf(model string, body []byte) invokeShape {
	switch {
	case modelIs(model, "amazon.nova-"):
		return shapeNova
	case modelIs(model, "amazon.titan-text") || modelIs(model, "amazon.titan-tg1"):
		return shapeTitanText
	case modelIs(model, "mistral."):
		return shapeMistral
	case modelIs(model, "meta."):
		return shapeLlama
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

// checkModelFields refuses a member of Converse's
// additionalModelRequestFields that model's family does not take, as
// Bedrock does (the model refuses the extraneous key): Claude's thinking,
// top_k and anthropic_beta for any other family, the reasoningConfig of
// Amazon Nova 2 and Nova Premier for any other model, Nova's inferenceConfig for any
// model but Nova.
func checkModelFields(model string, fields map[string]json.RawMessage) error {
	claude, nova := claudeLike(model), modelIs(model, "amazon.nova-")
	for _, k := range []string{"thinking", "top_k", "anthropic_beta", "reasoningConfig", "inferenceConfig"} {
		if _, ok := fields[k]; !ok {
			continue
		}
		var takes bool
		switch k {
		case "thinking", "top_k", "anthropic_beta":
			takes = claude
		case "reasoningConfig":
			takes = modelIs(model, "amazon.nova-2") || modelIs(model, "amazon.nova-premier")
		case "inferenceConfig":
			takes = nova
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
	return g.shape == shapeLlama || g.shape == shapeTitanText || g.shape == shapeMistral
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

// novaUsage is a Nova InvokeModel answer's usage.
func (g *bedrockGeneration) novaUsage(n int) map[string]int {
	u := g.usage(n)
	return map[string]int{"inputTokens": u["inputTokens"], "outputTokens": u["outputTokens"], "totalTokens": u["totalTokens"],
		"cacheReadInputTokenCount": u["cacheReadInputTokens"], "cacheWriteInputTokenCount": u["cacheWriteInputTokens"]}
}

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
