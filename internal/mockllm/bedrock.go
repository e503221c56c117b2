package mockllm

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/bedrockmodel"
)

// This file serves the simulated model in Amazon Bedrock's shapes:
// Converse and ConverseStream, and InvokeModel (and its response stream)
// with Anthropic Messages bodies, so that Meridian's Bedrock adapter and
// its cross-dialect paths are testable without AWS. It answers like the
// OpenAI mode (same words, pacing, outage and throttling), with tool use
// blocks for requests that offer tools, cached-token usage and Bedrock's
// error shape (x-amzn-ErrorType, {"message"}). It honours tool choice
// (Anthropic's tool_choice, Converse's toolConfig.toolChoice) as the OpenAI
// mode honours tool_choice and parallel_tool_calls, and answers a request
// that enables thinking (Anthropic's thinking, Converse's
// additionalModelRequestFields thinking or reasoning_config) with a signed
// thinking block first. SigV4 is not checked.
// Embedding models (Titan, Cohere) are served by bedrock_embed.go; the
// InvokeModel shapes of the other chat families (Titan Text, Mistral,
// Llama, Nova) and what each family takes in Converse's
// additionalModelRequestFields are in bedrock_invoke.go.

// bedrockTool is a tool the request offers, in either shape.
type bedrockTool struct {
	name   string
	schema json.RawMessage
}

// bedrockRequest is what the simulator reads from a Converse or Anthropic
// body.
type bedrockRequest struct {
	chat       chatRequest
	tools      []bedrockTool
	toolResult bool // the conversation ends with tool results
	// schema is the requested structured output's JSON schema, if any.
	schema json.RawMessage
	// Tool choice: none (no calls), the one tool forced by name, or a
	// single call (Anthropic's disable_parallel_tool_use).
	toolNone bool
	forced   string
	single   bool
	// forcing: the choice forces a tool call (Anthropic any or tool,
	// Converse any or tool), even after tool results.
	forcing bool
	// thinking: the request enables extended thinking (reasoning).
	thinking bool
	// unsigned: with thinking on, the conversation ends with tool results
	// and the assistant turn that called the tools does not start with its
	// thinking: the message index and the type of its first block.
	unsigned *thinklessTurn
	// markers are the request's cache markers (Converse cachePoint blocks,
	// Anthropic cache_control), in chat's messages and parts (cache.go).
	markers []cacheMarker
	// cohere is a Cohere Command R request's conversation, which its
	// answer repeats (bedrock_cohere.go).
	cohere *cohereChat
}

// thinklessTurn is an assistant turn that Claude, with thinking on,
// refuses: see checkThinking.
type thinklessTurn struct {
	message int
	first   string // the first block's type, in Anthropic's words
}

func (r *bedrockRequest) wantsTools() bool {
	return len(r.tools) > 0 && !r.toolNone && (!r.toolResult || r.forcing)
}

// errThinkingForced is Claude's refusal of extended thinking with a
// tool choice that forces a call (any or tool): thinking works with auto
// and none only.
const errThinkingForced = "Thinking may not be enabled when tool_choice forces tool use."

// checkThinking refuses thinking with a forced tool choice, and, with
// thinking on, a conversation that ends with tool results whose assistant
// turn (the one that called the tools) does not start with its thinking
// block, as Claude does (on Bedrock, a ValidationException).
func (r *bedrockRequest) checkThinking() error {
	if r.thinking && r.forcing {
		return jsonError(errThinkingForced)
	}
	if u := r.unsigned; r.thinking && u != nil {
		return jsonError(fmt.Sprintf("messages.%d.content.0.type: Expected `thinking` or `redacted_thinking`, but found `%s`. "+
			"When `thinking` is enabled, a final `assistant` message must start with a thinking block "+
			"(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. "+
			"To avoid this requirement, disable `thinking`.", u.message, u.first))
	}
	return nil
}

// lastToolTurn returns the last assistant turn of a conversation that ends
// with tool results (check: and has thinking on) when it calls tools
// without starting with thinking; blocks gives a message's role and its blocks' types in
// Anthropic's words (tool_use, thinking, text...).
func lastToolTurn(check bool, n int, blocks func(i int) (role string, types []string)) *thinklessTurn {
	if !check {
		return nil
	}
	for i := n - 1; i >= 0; i-- {
		role, types := blocks(i)
		if role != "assistant" {
			continue
		}
		if !slices.Contains(types, "tool_use") {
			return nil
		}
		if types[0] == "thinking" || types[0] == "redacted_thinking" {
			return nil
		}
		return &thinklessTurn{message: i, first: types[0]}
	}
	return nil
}

// converseBlockType names a Converse content block in Anthropic's words.
func converseBlockType(b map[string]json.RawMessage) string {
	for _, m := range [...]struct{ member, typ string }{{"reasoningContent", "thinking"}, {"toolUse", "tool_use"}, {"toolResult", "tool_result"}, {"text", "text"}} {
		if v, ok := b[m.member]; ok {
			if m.typ == "thinking" && strings.Contains(string(v), `"redactedContent"`) {
				return "redacted_thinking"
			}
			return m.typ
		}
	}
	return "other"
}

// calls returns the tools the answer calls: one call per offered tool, the
// forced one alone, or only the first when parallel use is disabled.
func (r *bedrockRequest) calls() []bedrockTool {
	if !r.wantsTools() {
		return nil
	}
	if r.forced != "" {
		for _, t := range r.tools {
			if t.name == r.forced {
				return []bedrockTool{t}
			}
		}
		return nil // the decoder refuses a name that is not offered
	}
	if r.single {
		return r.tools[:1]
	}
	return r.tools
}

// checkForced refuses a tool choice that names a tool the request does not
// offer, as Bedrock does.
func (r *bedrockRequest) checkForced(field string) error {
	if r.forced == "" {
		return nil
	}
	for _, t := range r.tools {
		if t.name == r.forced {
			return nil
		}
	}
	return jsonError(field + " names tool " + strconv.Quote(r.forced) + ", which is not among the tools")
}

// thinkingEnabled reports whether a thinking or reasoning configuration
// (Anthropic's thinking, Nova's reasoningConfig) enables it: type enabled.
func thinkingEnabled(raw json.RawMessage) (bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	var th struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &th); err != nil {
		return false, err
	}
	return th.Type == "enabled", nil
}

// decodeConverse reads a Converse body.
func decodeConverse(model string, body []byte) (*bedrockRequest, error) {
	var c struct {
		Messages []struct {
			Role    string                       `json:"role"`
			Content []map[string]json.RawMessage `json:"content"`
		} `json:"messages"`
		System          []map[string]json.RawMessage `json:"system"`
		InferenceConfig *struct {
			MaxTokens     *int     `json:"maxTokens"`
			StopSequences []string `json:"stopSequences"`
			// MaxNewTokens is a Nova InvokeModel body's token limit, the
			// name Amazon Nova's Invoke API documents beside maxTokens.
			MaxNewTokens *int `json:"max_new_tokens"`
		} `json:"inferenceConfig"`
		// ReasoningConfig is a Nova InvokeModel body's, a top-level
		// member (Converse's is in additionalModelRequestFields).
		ReasoningConfig json.RawMessage `json:"reasoningConfig"`
		OutputConfig    *struct {
			TextFormat *struct {
				Structure struct {
					JSONSchema *struct {
						Schema string `json:"schema"`
					} `json:"jsonSchema"`
				} `json:"structure"`
			} `json:"textFormat"`
		} `json:"outputConfig"`
		AdditionalModelRequestFields map[string]json.RawMessage `json:"additionalModelRequestFields"`
		ToolConfig                   *struct {
			ToolChoice *struct {
				Auto *struct{} `json:"auto"`
				Any  *struct{} `json:"any"`
				Tool *struct {
					Name string `json:"name"`
				} `json:"tool"`
			} `json:"toolChoice"`
			Tools []struct {
				ToolSpec *struct {
					Name        string `json:"name"`
					InputSchema struct {
						JSON json.RawMessage `json:"json"`
					} `json:"inputSchema"`
				} `json:"toolSpec"`
			} `json:"tools"`
		} `json:"toolConfig"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, err
	}
	r := &bedrockRequest{chat: chatRequest{Model: model}}
	text := func(b map[string]json.RawMessage) string {
		var s string
		json.Unmarshal(b["text"], &s)
		return s
	}
	// cachePoint marks the end of a cached prefix: the block itself, an
	// empty part, ends it.
	cachePoint := func(b map[string]json.RawMessage, msg, part int) {
		raw, ok := b["cachePoint"]
		if !ok {
			return
		}
		var cp struct {
			TTL string `json:"ttl"`
		}
		json.Unmarshal(raw, &cp)
		r.markers = append(r.markers, cacheMarker{msg: msg, part: part, ttl: markerTTL(cp.TTL)})
	}
	for _, b := range c.System {
		cachePoint(b, len(r.chat.Messages), 0)
		r.chat.Messages = append(r.chat.Messages, chatMessage{Role: "system", Content: textContent{parts: []string{text(b)}}})
	}
	for _, m := range c.Messages {
		cm := chatMessage{Role: m.Role}
		r.toolResult = false
		for j, b := range m.Content {
			if _, ok := b["toolResult"]; ok {
				r.toolResult = true
			}
			cachePoint(b, len(r.chat.Messages), j)
			cm.Content.parts = append(cm.Content.parts, text(b))
		}
		r.chat.Messages = append(r.chat.Messages, cm)
	}
	if ic := c.InferenceConfig; ic != nil {
		r.chat.MaxTokens, r.chat.Stop = ic.MaxTokens, ic.StopSequences
	}
	if ic := c.InferenceConfig; ic != nil && ic.MaxNewTokens != nil && ic.MaxTokens == nil && bedrockmodel.Parse(model).Provider == "amazon" {
		r.chat.MaxTokens = ic.MaxNewTokens
	}
	reasoning := c.AdditionalModelRequestFields["reasoningConfig"]
	if len(c.ReasoningConfig) > 0 && bedrockmodel.Parse(model).Provider == "amazon" {
		// A Nova InvokeModel body's reasoningConfig is a top-level member.
		if bedrockmodel.SimulatorFamily(model) != bedrockmodel.NovaReasoning {
			return nil, jsonError("extraneous key [reasoningConfig] is not permitted")
		}
		reasoning = c.ReasoningConfig
		if c.AdditionalModelRequestFields == nil {
			c.AdditionalModelRequestFields = map[string]json.RawMessage{}
		}
		c.AdditionalModelRequestFields["reasoningConfig"] = reasoning
	}
	if err := checkNovaEffort(reasoning, r.chat.MaxTokens); err != nil {
		return nil, err
	}
	if oc := c.OutputConfig; oc != nil && oc.TextFormat != nil && oc.TextFormat.Structure.JSONSchema != nil {
		r.schema = json.RawMessage(oc.TextFormat.Structure.JSONSchema.Schema)
	}
	if tc := c.ToolConfig; tc != nil {
		for _, t := range tc.Tools {
			if t.ToolSpec != nil {
				r.tools = append(r.tools, bedrockTool{t.ToolSpec.Name, t.ToolSpec.InputSchema.JSON})
			}
		}
		if ch := tc.ToolChoice; ch != nil {
			switch {
			case ch.Tool != nil && (ch.Auto != nil || ch.Any != nil), ch.Auto != nil && ch.Any != nil:
				return nil, jsonError("toolConfig.toolChoice must set exactly one of auto, any, tool")
			case ch.Tool != nil:
				r.forced, r.forcing = ch.Tool.Name, true
				if r.forced == "" {
					return nil, jsonError("toolConfig.toolChoice.tool.name is required")
				}
			case ch.Any != nil:
				r.forcing = true
			}
		}
		if err := r.checkForced("toolConfig.toolChoice.tool"); err != nil {
			return nil, err
		}
	}
	if err := checkModelFields(model, c.AdditionalModelRequestFields); err != nil {
		return nil, err
	}
	for _, k := range []string{"thinking", "reasoning_config", "reasoningConfig"} {
		on, err := thinkingEnabled(c.AdditionalModelRequestFields[k])
		if err != nil {
			return nil, jsonError("additionalModelRequestFields." + k + " must be an object with a type")
		}
		r.thinking = r.thinking || on
	}
	// OpenAI gpt-oss always reasons (medium by default, low at least), with
	// or without reasoning_effort: Meridian's translator refuses a request
	// asking it for none (internal/translate/converse_family.go).
	r.thinking = r.thinking || bedrockmodel.SimulatorFamily(model) == bedrockmodel.GPTOSS
	r.unsigned = lastToolTurn(r.thinking && r.toolResult, len(c.Messages), func(i int) (string, []string) {
		types := make([]string, len(c.Messages[i].Content))
		for j, b := range c.Messages[i].Content {
			types[j] = converseBlockType(b)
		}
		return c.Messages[i].Role, types
	})
	if !claudeLike(model) {
		// Forced tool use with thinking is Claude's refusal.
		return r, nil
	}
	if err := r.checkThinking(); err != nil {
		return nil, err
	}
	return r, nil
}

// decodeAnthropic reads an Anthropic Messages body.
func decodeAnthropic(model string, body []byte) (*bedrockRequest, error) {
	var a struct {
		Messages []struct {
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		} `json:"messages"`
		System        json.RawMessage `json:"system"`
		MaxTokens     *int            `json:"max_tokens"`
		StopSequences []string        `json:"stop_sequences"`
		Tools         []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"input_schema"`
		} `json:"tools"`
		OutputConfig *struct {
			Format *struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"format"`
		} `json:"output_config"`
		OutputFormat *struct {
			Schema json.RawMessage `json:"schema"`
		} `json:"output_format"`
		ToolChoice *struct {
			Type                   string `json:"type"`
			Name                   string `json:"name"`
			DisableParallelToolUse bool   `json:"disable_parallel_tool_use"`
		} `json:"tool_choice"`
		Thinking json.RawMessage `json:"thinking"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, err
	}
	r := &bedrockRequest{chat: chatRequest{Model: model, MaxTokens: a.MaxTokens, Stop: a.StopSequences}}
	// blocks reads the blocks of message msg; a block with cache_control
	// ends a cached prefix.
	blocks := func(raw json.RawMessage, msg int) (parts []string, toolResult bool) {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return []string{s}, false
		}
		var bs []struct {
			Type         string `json:"type"`
			Text         string `json:"text"`
			CacheControl *struct {
				TTL string `json:"ttl"`
			} `json:"cache_control"`
		}
		json.Unmarshal(raw, &bs)
		for j, b := range bs {
			parts = append(parts, b.Text)
			toolResult = toolResult || b.Type == "tool_result"
			if b.CacheControl != nil {
				r.markers = append(r.markers, cacheMarker{msg: msg, part: j, ttl: markerTTL(b.CacheControl.TTL)})
			}
		}
		return parts, toolResult
	}
	if len(a.System) > 0 {
		p, _ := blocks(a.System, 0)
		r.chat.Messages = append(r.chat.Messages, chatMessage{Role: "system", Content: textContent{parts: p}})
	}
	for _, m := range a.Messages {
		p, tr := blocks(m.Content, len(r.chat.Messages))
		r.toolResult = tr
		r.chat.Messages = append(r.chat.Messages, chatMessage{Role: m.Role, Content: textContent{parts: p}})
	}
	for _, t := range a.Tools {
		r.tools = append(r.tools, bedrockTool{t.Name, t.InputSchema})
	}
	switch {
	case a.OutputConfig != nil && a.OutputConfig.Format != nil:
		r.schema = a.OutputConfig.Format.Schema
	case a.OutputFormat != nil:
		r.schema = a.OutputFormat.Schema
	}
	if ch := a.ToolChoice; ch != nil {
		switch ch.Type {
		case "auto":
		case "any":
			r.forcing = true
		case "none":
			r.toolNone = true
		case "tool":
			if ch.Name == "" {
				return nil, jsonError("tool_choice.name is required for tool_choice of type tool")
			}
			r.forced, r.forcing = ch.Name, true
		default:
			return nil, jsonError("tool_choice.type must be one of auto, any, tool, none")
		}
		r.single = ch.DisableParallelToolUse
		if err := r.checkForced("tool_choice"); err != nil {
			return nil, err
		}
	}
	var err error
	if r.thinking, err = thinkingEnabled(a.Thinking); err != nil {
		return nil, jsonError("thinking must be an object with a type")
	}
	r.unsigned = lastToolTurn(r.thinking && r.toolResult, len(a.Messages), func(i int) (string, []string) {
		var bs []struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(a.Messages[i].Content, &bs) != nil || len(bs) == 0 {
			return a.Messages[i].Role, []string{"text"}
		}
		types := make([]string, len(bs))
		for j, b := range bs {
			types[j] = b.Type
		}
		return a.Messages[i].Role, types
	})
	if err := r.checkThinking(); err != nil {
		return nil, err
	}
	return r, nil
}

// headerRequestMetadata is InvokeModel's request metadata header.
const headerRequestMetadata = "X-Amzn-Bedrock-Request-Metadata"

// bedrockRequestMetadata returns a Bedrock request's metadata: for the
// InvokeModel operations the X-Amzn-Bedrock-Request-Metadata header, for
// Converse the body's requestMetadata; nil when there is none. Like
// Bedrock, it refuses metadata that is not an object of strings within
// Converse's limits (the error is the ValidationException's message).
func bedrockRequestMetadata(op string, h http.Header, body []byte) (map[string]string, error) {
	var md map[string]string
	what := "requestMetadata"
	if strings.HasPrefix(op, "invoke") {
		what = headerRequestMetadata
		v := h.Get(headerRequestMetadata)
		if v == "" {
			return nil, nil
		}
		if err := json.Unmarshal([]byte(v), &md); err != nil || md == nil {
			return nil, jsonError(what + " must be a JSON object of strings")
		}
	} else {
		var c struct {
			RequestMetadata json.RawMessage `json:"requestMetadata"`
		}
		if err := json.Unmarshal(body, &c); err != nil {
			return nil, nil // the body's own decoder reports it
		}
		if len(c.RequestMetadata) == 0 || string(c.RequestMetadata) == "null" {
			return nil, nil
		}
		// Any other value than an object of strings ({"k":1}, ["x"], "x")
		// is refused, as Bedrock refuses it.
		if err := json.Unmarshal(c.RequestMetadata, &md); err != nil || md == nil {
			return nil, jsonError(what + " must be a JSON object of strings")
		}
	}
	if err := inference.ValidateMetadata(md); err != nil {
		return nil, jsonError(what + " " + err.Error())
	}
	return md, nil
}

// bedrockError writes an error in Bedrock's shape.
func bedrockError(w http.ResponseWriter, status int, typ, msg string, retryAfter time.Duration) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-Errortype", typ)
	if retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(retryAfterSeconds(retryAfter), 10))
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"message": msg})
	w.Write(b)
}

// serveBedrock answers the four Bedrock runtime operations.
func (s *Server) serveBedrock(w http.ResponseWriter, r *http.Request) {
	id := s.stats.requests.Add(1)
	st := s.cur.Load()
	start := s.clock.Now()
	model, op := r.PathValue("modelId"), r.PathValue("op")
	switch op {
	case "converse", "converse-stream", "invoke", "invoke-with-response-stream":
	default:
		http.NotFound(w, r)
		return
	}
	bp, e := s.readBody(w, r)
	defer s.bufs.Put(bp)
	if e != nil {
		s.stats.invalid.Add(1)
		bedrockError(w, e.status, "ValidationException", e.message, 0)
		return
	}
	md, err := bedrockRequestMetadata(op, r.Header, *bp)
	if err != nil {
		s.stats.invalid.Add(1)
		bedrockError(w, http.StatusBadRequest, "ValidationException", err.Error(), 0)
		return
	}
	if s.receivedMetadata != nil {
		s.receivedMetadata(r.URL.Path, md)
	}
	if f := bedrockEmbedFamily(model); f != notEmbedding {
		s.serveBedrockEmbed(w, f, model, op, *bp)
		return
	}
	var req *bedrockRequest
	invoke := strings.HasPrefix(op, "invoke")
	shape := invokeShapeOf(model, *bp)
	switch {
	case !invoke:
		req, err = decodeConverse(model, *bp)
	case shape == shapeLlama:
		req, err = decodeLlama(model, *bp)
	case shape == shapeTitanText:
		req, err = decodeTitanText(model, *bp)
	case shape == shapeMistral:
		req, err = decodeMistral(model, *bp)
	case shape == shapeMistralChat:
		req, err = decodeMistralChat(model, *bp)
	case shape == shapeCohereChat:
		req, err = decodeCohereChat(model, *bp)
	case shape == shapeNova:
		req, err = decodeNova(model, *bp)
	default:
		req, err = decodeAnthropic(model, *bp)
	}
	anthropic, llama := invoke && shape == shapeAnthropic, invoke && shape == shapeLlama
	if !invoke {
		shape = shapeConverseBody
	}
	if err == nil && len(req.chat.Messages) == 0 {
		err = errEmpty
	}
	if err == nil {
		err = checkSampling(shape, !invoke, *bp)
	}
	var tier string
	if err == nil {
		tier, err = s.requestedTier(r.Header, model, !invoke, *bp)
	}
	if err == nil && s.models != nil && !s.models[model] {
		s.stats.invalid.Add(1)
		bedrockError(w, http.StatusNotFound, "ResourceNotFoundException", "The model "+model+" does not exist.", 0)
		return
	}
	if err != nil {
		s.stats.invalid.Add(1)
		msg := "Malformed input request: " + err.Error()
		if v, ok := err.(validationError); ok {
			msg = string(v)
		}
		bedrockError(w, http.StatusBadRequest, "ValidationException", msg, 0)
		return
	}
	if !s.admitBedrock(w, st) {
		return
	}
	defer s.stats.inFlight.Add(-1)
	tp := s.tokens.Get().(*[]string)
	defer s.tokens.Put(tp)
	c := planCompletion(s.seed, s.completionTokens, &req.chat, *tp)
	*tp = c.tokens[:0]
	g := &bedrockGeneration{generation: generation{s: s, st: st, req: &req.chat, c: c, prompt: promptTokens(&req.chat), start: start,
		id: uint64(newHasher(s.seed).uint64(uint64(id)))}, breq: req, anthropic: anthropic, llama: llama, shape: shape, tier: tier}
	var seq uint64
	if st.limits.any() {
		// The RPM and TPM windows the OpenAI mode keeps, shared with it;
		// Bedrock sends no rate limit headers.
		var e *apiError
		if seq, e = s.win.admit(start, st.limits, g.prompt+len(c.tokens), model, http.Header{}); e != nil {
			s.stats.throttled.Add(1)
			bedrockError(w, http.StatusTooManyRequests, "ThrottlingException", "Too many requests, please wait before trying again.", e.retryAfter)
			return
		}
	}
	// Only the prefixes the request marks are cached, as Bedrock caches.
	g.cached, g.cacheWrite = s.cache.use(start, markedPrefixes(&req.chat, req.markers))
	var produced int
	var end outcome
	if strings.HasSuffix(op, "stream") {
		produced, end = g.stream(r.Context(), w)
	} else {
		produced, end = g.respond(r.Context(), w)
	}
	if st.limits.any() && produced != len(c.tokens) {
		s.win.settle(seq, g.prompt+produced)
	}
	s.stats.promptTokens.Add(int64(g.prompt))
	s.stats.completionTokens.Add(int64(produced))
	switch end {
	case completed:
		s.stats.served.Add(1)
	case canceled:
		s.stats.canceled.Add(1)
	}
}

// admitBedrock refuses a request during an outage, a throttle, by an
// injected failure (FailRate) or over the concurrency limit, in Bedrock's
// shape. When it admits the request, the
// caller holds one in-flight slot and releases it with
// s.stats.inFlight.Add(-1).
func (s *Server) admitBedrock(w http.ResponseWriter, st *settings) bool {
	switch {
	case st.down:
		s.stats.failed.Add(1)
		bedrockError(w, http.StatusServiceUnavailable, "ServiceUnavailableException", "The service is down (simulated outage).", 0)
		return false
	case st.throttle > 0:
		s.stats.throttled.Add(1)
		bedrockError(w, http.StatusTooManyRequests, "ThrottlingException", "Too many requests (throttled by the operator).", st.throttle)
		return false
	}
	if st.failRate > 0 {
		// Injected failures, drawn as the OpenAI mode draws them, in
		// Bedrock's shape.
		n := s.arrivals.Add(1)
		r := rng{state: uint64(newHasher(s.seed).uint64(n))}
		if r.float64() < st.failRate {
			status, typ, msg, retry := st.failStatus, "ValidationException", "Simulated failure: "+http.StatusText(st.failStatus)+".", time.Duration(0)
			switch {
			case status == http.StatusTooManyRequests:
				typ, msg, retry = "ThrottlingException", "Too many requests (simulated failure).", time.Second
				s.stats.throttled.Add(1)
			case status == http.StatusServiceUnavailable:
				typ, msg = "ServiceUnavailableException", "The service is unavailable (simulated failure)."
				s.stats.failed.Add(1)
			case status >= 500:
				typ, msg = "InternalServerException", "The server encountered an error (simulated failure)."
				s.stats.failed.Add(1)
			default:
				// Bedrock's exception for the status, which is what the
				// gateway's backend reads the failure's meaning from.
				switch status {
				case http.StatusForbidden:
					typ = "AccessDeniedException"
				case http.StatusNotFound:
					typ = "ResourceNotFoundException"
				case http.StatusRequestTimeout:
					typ = "ModelTimeoutException"
				case http.StatusFailedDependency:
					typ = "ModelErrorException"
				}
				s.stats.failed.Add(1)
			}
			bedrockError(w, status, typ, msg, retry)
			return false
		}
	}
	if inFlight := s.stats.inFlight.Add(1); st.maxConcurrency > 0 && inFlight > int64(st.maxConcurrency) {
		s.stats.inFlight.Add(-1)
		s.stats.throttled.Add(1)
		bedrockError(w, http.StatusTooManyRequests, "ThrottlingException", "Too many concurrent requests.", time.Second)
		return false
	}
	return true
}

var errEmpty = jsonError("messages must be a non-empty list")

type jsonError string

func (e jsonError) Error() string { return string(e) }

type bedrockGeneration struct {
	generation
	// cacheWrite is the prompt's tokens written to the prompt cache (the
	// generation's cached are those read from it).
	cacheWrite int
	// structured is the answer to a request for structured output, once
	// text has made it.
	structured string
	breq       *bedrockRequest
	anthropic  bool
	// llama answers in Meta Llama's InvokeModel shape (another family's
	// body: a prompt, no messages).
	llama bool
	// shape is the InvokeModel shape of the answer (Titan Text, Mistral
	// and Nova besides the two above), or shapeConverseBody for Converse.
	shape invokeShape
	// tier is the service tier the request asked for ("" for none), which
	// the answer reports (bedrock_tier.go).
	tier string
}

// decodeLlama reads a Meta Llama InvokeModel body.
func decodeLlama(model string, body []byte) (*bedrockRequest, error) {
	var l struct {
		Prompt    string `json:"prompt"`
		MaxGenLen *int   `json:"max_gen_len"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, err
	}
	if l.Prompt == "" {
		return nil, jsonError("prompt is required")
	}
	return &bedrockRequest{chat: chatRequest{Model: model, MaxTokens: l.MaxGenLen,
		Messages: []chatMessage{{Role: "user", Content: textContent{parts: []string{l.Prompt}}}}}}, nil
}

func (g *bedrockGeneration) llamaStop() string {
	if g.c.finish == finishLength {
		return "length"
	}
	return "stop"
}

// text is the answer: the generated words, or an instance of the
// requested schema.
func (g *bedrockGeneration) text() string {
	if g.breq.schema == nil {
		return strings.Join(g.c.tokens, "")
	}
	if g.structured == "" {
		g.structured = string(Instance(g.breq.schema))
		if openObject(g.breq.schema) {
			// JSON mode's schema (OpenAI's json_object translated):
			// the format the conversation asks for, as the OpenAI face
			// answers json_object.
			if v, ok := promptJSON(g.req); ok {
				g.structured = v
			}
		}
	}
	return g.structured
}

// openObject reports whether schema is an object schema that names no
// properties, which any JSON object validates against.
func openObject(schema json.RawMessage) bool {
	var s map[string]any
	if json.Unmarshal(schema, &s) != nil || s["type"] != "object" {
		return false
	}
	_, props := s["properties"]
	return !props
}

// pieces splits the text into as many deltas as there are tokens.
func (g *bedrockGeneration) piece(i int) string {
	if g.breq.schema == nil {
		return g.c.tokens[i]
	}
	return slice(g.text(), i, len(g.c.tokens))
}

func (g *bedrockGeneration) toolID(i int) string {
	return "tooluse_mock" + strconv.FormatUint(g.id, 16) + "_" + strconv.Itoa(i)
}

func (g *bedrockGeneration) stopReason() string {
	switch {
	case g.breq.wantsTools():
		return "tool_use"
	case g.stopSequence() != nil:
		return "stop_sequence"
	case g.c.finish == finishLength:
		return "max_tokens"
	}
	return "end_turn"
}

// stopSequence is the stop sequence that ended the answer (an Anthropic
// answer's stop_sequence), or nil: an answer of tools or of a schema is
// not cut.
func (g *bedrockGeneration) stopSequence() any {
	if g.c.stopSeq == "" || g.breq.wantsTools() || g.breq.schema != nil {
		return nil
	}
	return g.c.stopSeq
}

// thinkingText is the answer's thinking, or "" when the request does not
// enable it.
func (g *bedrockGeneration) thinkingText() string {
	if !g.breq.thinking {
		return ""
	}
	return mockReasoning
}

// signature is the thinking block's signature: opaque, deterministic.
func (g *bedrockGeneration) signature() string {
	return base64.StdEncoding.EncodeToString([]byte("mockllm thinking " + strconv.FormatUint(g.id, 16)))
}

// outputTokens is the output token count of an answer of n tokens: the
// thinking counts in it, as the real APIs count it (the same count the
// OpenAI mode reports as reasoning_tokens).
func (g *bedrockGeneration) outputTokens(n int) int { return n + reasoningTokens(g.thinkingText()) }

func (g *bedrockGeneration) usage(n int) map[string]int {
	n = g.outputTokens(n)
	read, write := g.cached, g.cacheWrite
	if g.anthropic {
		return map[string]int{"input_tokens": g.prompt - read - write, "output_tokens": n, "cache_read_input_tokens": read, "cache_creation_input_tokens": write}
	}
	return map[string]int{"inputTokens": g.prompt - read - write, "outputTokens": n, "totalTokens": g.prompt + n, "cacheReadInputTokens": read, "cacheWriteInputTokens": write}
}

func (g *bedrockGeneration) respond(ctx context.Context, w http.ResponseWriter) (int, outcome) {
	n := len(g.c.tokens)
	if g.paced() && g.waitUntil(ctx, g.due(max(n-1, 0))) != nil {
		return 0, canceled
	}
	var content []any
	if th := g.thinkingText(); th != "" {
		if g.anthropic {
			content = append(content, map[string]any{"type": "thinking", "thinking": th, "signature": g.signature()})
		} else {
			content = append(content, map[string]any{"reasoningContent": map[string]any{"reasoningText": map[string]any{"text": th, "signature": g.signature()}}})
		}
	}
	if g.breq.wantsTools() {
		for i, t := range g.breq.calls() {
			input := json.RawMessage(Instance(t.schema))
			if g.anthropic {
				content = append(content, map[string]any{"type": "tool_use", "id": g.toolID(i), "name": t.name, "input": input})
			} else {
				content = append(content, map[string]any{"toolUse": map[string]any{"toolUseId": g.toolID(i), "name": t.name, "input": input}})
			}
		}
	} else if g.anthropic {
		content = append(content, map[string]any{"type": "text", "text": g.text()})
	} else {
		content = append(content, map[string]any{"text": g.text()})
	}
	var body any
	if fb := g.familyBody(w.Header(), n, content); fb != nil {
		body = fb
	} else if g.llama {
		body = map[string]any{"generation": g.text(), "prompt_token_count": g.prompt, "generation_token_count": n, "stop_reason": g.llamaStop()}
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(g.prompt))
		w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(n))
	} else if g.anthropic {
		body = map[string]any{"id": "msg_mock" + strconv.FormatUint(g.id, 16), "type": "message", "role": "assistant", "model": g.req.Model,
			"content": content, "stop_reason": g.stopReason(), "stop_sequence": g.stopSequence(), "usage": g.usage(n)}
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", strconv.Itoa(g.prompt))
		w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", strconv.Itoa(g.outputTokens(n)))
	} else {
		body = map[string]any{"output": map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
			"stopReason": g.stopReason(), "usage": g.usage(n), "metrics": map[string]any{"latencyMs": g.s.clock.Now().Sub(g.start).Milliseconds()}}
	}
	body = g.withTier(w.Header(), body)
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	if _, err := w.Write(b); err != nil {
		return n, canceled
	}
	return n, completed
}

// stream writes the answer as an AWS event stream, paced like the OpenAI
// mode: Converse events, or Anthropic events in InvokeModel chunks.
func (g *bedrockGeneration) stream(ctx context.Context, w http.ResponseWriter) (int, outcome) {
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	g.withTier(w.Header(), nil)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := eventstream.NewEncoder()
	send := func(typ string, v any) bool {
		b, _ := json.Marshal(v)
		if g.shape == shapeNova {
			b = g.novaChunk(typ, b)
		}
		if g.shape != shapeConverseBody {
			b, _ = json.Marshal(map[string]string{"bytes": base64.StdEncoding.EncodeToString(b)})
			typ = "chunk"
		}
		var m eventstream.Message
		m.Headers.Set(":event-type", eventstream.StringValue(typ))
		m.Headers.Set(":content-type", eventstream.StringValue("application/json"))
		m.Headers.Set(":message-type", eventstream.StringValue("event"))
		m.Payload = b
		if enc.Encode(w, m) != nil {
			return false
		}
		rc.Flush()
		return true
	}
	if g.paced() && g.waitUntil(ctx, g.due(0)) != nil {
		return 0, canceled
	}
	n := len(g.c.tokens)
	if g.shape == shapeCohereChat {
		if !send("", g.cohereStart()) {
			return 0, canceled
		}
		for i, t := range g.c.tokens {
			if g.paced() && g.waitUntil(ctx, g.due(i)) != nil {
				return i, canceled
			}
			if !send("", cohereText(t)) {
				return i, canceled
			}
		}
		if !send("", g.cohereEnd(n)) {
			return n, canceled
		}
		return n, completed
	}
	if g.promptFamily() {
		for i, t := range g.c.tokens {
			if g.paced() && g.waitUntil(ctx, g.due(i)) != nil {
				return i, canceled
			}
			if !send("", g.promptChunk(i, t, n)) {
				return i, canceled
			}
		}
		return n, completed
	}
	ok := true
	if g.anthropic {
		start := g.usage(0)
		start["output_tokens"] = 1 // as Anthropic starts a message
		ok = send("", map[string]any{"type": "message_start", "message": map[string]any{"id": "msg_mock" + strconv.FormatUint(g.id, 16), "type": "message",
			"role": "assistant", "model": g.req.Model, "content": []any{}, "stop_reason": nil, "usage": start}})
	} else {
		ok = send("messageStart", map[string]string{"role": "assistant"})
	}
	if !ok {
		return 0, canceled
	}
	// A thinking block comes first, as the real APIs stream it: its text
	// in deltas, then its signature (Converse sends no start event for
	// it).
	block := 0
	if th := g.thinkingText(); th != "" {
		half := len(th) / 2
		if g.anthropic {
			ok = send("", map[string]any{"type": "content_block_start", "index": 0, "content_block": map[string]any{"type": "thinking", "thinking": "", "signature": ""}}) &&
				send("", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "thinking_delta", "thinking": th[:half]}}) &&
				send("", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "thinking_delta", "thinking": th[half:]}}) &&
				send("", map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "signature_delta", "signature": g.signature()}}) &&
				send("", map[string]any{"type": "content_block_stop", "index": 0})
		} else {
			ok = send("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"reasoningContent": map[string]any{"text": th[:half]}}}) &&
				send("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"reasoningContent": map[string]any{"text": th[half:]}}}) &&
				send("contentBlockDelta", map[string]any{"contentBlockIndex": 0, "delta": map[string]any{"reasoningContent": map[string]any{"signature": g.signature()}}}) &&
				send("contentBlockStop", map[string]any{"contentBlockIndex": 0})
		}
		if !ok {
			return 0, canceled
		}
		block = 1
	}
	if g.breq.wantsTools() {
		// Each call: a start, its input in one delta, a stop; paced as the
		// OpenAI mode paces a call's three chunks.
		for i, t := range g.breq.calls() {
			if g.paced() && g.waitUntil(ctx, g.due(min(i*3, max(n-1, 0)))) != nil {
				return 0, canceled
			}
			args, b := string(Instance(t.schema)), block+i
			if g.anthropic {
				ok = send("", map[string]any{"type": "content_block_start", "index": b, "content_block": map[string]any{"type": "tool_use", "id": g.toolID(i), "name": t.name, "input": map[string]any{}}}) &&
					send("", map[string]any{"type": "content_block_delta", "index": b, "delta": map[string]any{"type": "input_json_delta", "partial_json": args}}) &&
					send("", map[string]any{"type": "content_block_stop", "index": b})
			} else {
				ok = send("contentBlockStart", map[string]any{"contentBlockIndex": b, "start": map[string]any{"toolUse": map[string]any{"toolUseId": g.toolID(i), "name": t.name}}}) &&
					send("contentBlockDelta", map[string]any{"contentBlockIndex": b, "delta": map[string]any{"toolUse": map[string]any{"input": args}}}) &&
					send("contentBlockStop", map[string]any{"contentBlockIndex": b})
			}
			if !ok {
				return 0, canceled
			}
		}
	} else {
		if g.anthropic && !send("", map[string]any{"type": "content_block_start", "index": block, "content_block": map[string]any{"type": "text", "text": ""}}) {
			return 0, canceled
		}
		for i, t := range g.c.tokens {
			if g.paced() && g.waitUntil(ctx, g.due(i)) != nil {
				return i, canceled
			}
			t = g.piece(i)
			if g.anthropic {
				ok = send("", map[string]any{"type": "content_block_delta", "index": block, "delta": map[string]any{"type": "text_delta", "text": t}})
			} else {
				ok = send("contentBlockDelta", map[string]any{"contentBlockIndex": block, "delta": map[string]any{"text": t}})
			}
			if !ok {
				return i, canceled
			}
		}
		if g.anthropic {
			ok = send("", map[string]any{"type": "content_block_stop", "index": block})
		} else {
			ok = send("contentBlockStop", map[string]any{"contentBlockIndex": block})
		}
	}
	if g.anthropic {
		u := g.usage(n)
		ok = ok && send("", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": g.stopReason(), "stop_sequence": g.stopSequence()}, "usage": map[string]int{"output_tokens": u["output_tokens"]}}) &&
			send("", map[string]any{"type": "message_stop", "amazon-bedrock-invocationMetrics": map[string]any{"inputTokenCount": g.prompt, "outputTokenCount": u["output_tokens"],
				"invocationLatency": g.s.clock.Now().Sub(g.start).Milliseconds(), "firstByteLatency": 1, "cacheReadInputTokenCount": u["cache_read_input_tokens"],
				"cacheWriteInputTokenCount": u["cache_creation_input_tokens"]}})
	} else {
		ok = ok && send("messageStop", map[string]string{"stopReason": g.stopReason()}) &&
			send("metadata", g.withTier(nil, map[string]any{"usage": g.usage(n), "metrics": map[string]any{"latencyMs": g.s.clock.Now().Sub(g.start).Milliseconds()}}))
	}
	if !ok {
		return n, canceled
	}
	return n, completed
}
