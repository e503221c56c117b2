package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/converse"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// Options tunes request translation. The zero value is ready to use.
type Options struct {
	// DefaultMaxTokens is the token limit sent to a target that requires one
	// (Anthropic max_tokens) when the source request has none.
	// If zero, 4096 is used.
	DefaultMaxTokens int64

	// AnthropicBedrock shapes Anthropic Messages request bodies for Bedrock
	// InvokeModel: anthropic_version "bedrock-2023-05-31" instead of model,
	// and no stream member (the operation says whether to stream).
	AnthropicBedrock bool

	// Family is the family of the Bedrock model a Converse request is
	// translated for (see [BedrockFamily]): it decides the
	// additionalModelRequestFields sent for reasoning and top_k. The zero
	// value is FamilyClaude.
	Family ConverseFamily
}

// shapeAnthropic applies AnthropicBedrock to a translated request.
func (o Options) shapeAnthropic(req *anthropic.Request) {
	if o.AnthropicBedrock {
		req.Model, req.Stream, req.AnthropicVersion = "", nil, anthropic.BedrockVersion
	}
}

func (o Options) defaultMaxTokens() int64 {
	if o.DefaultMaxTokens > 0 {
		return o.DefaultMaxTokens
	}
	return 4096
}

// ResponseMeta holds what a translated response needs but the backend's
// dialect lacks. The caller supplies it; this package reads no clock.
type ResponseMeta struct {
	ID        string // response id to present ("chatcmpl-...", "msg_...")
	Model     string // model name to present to the client
	Created   int64  // Unix seconds, for OpenAI responses
	LatencyMs int64  // for Converse metrics
	// IncludeUsage makes an OpenAI stream end with a usage chunk, as the
	// client's stream_options.include_usage asked.
	IncludeUsage bool
	// StopSequences are the stop sequences an Anthropic client asked for
	// (see AnthropicStopSequences). A Converse model that stopped on a stop
	// sequence without saying which stopped on the only one, if there is
	// only one: the answer's stop_sequence names it.
	StopSequences []string
}

// AnthropicStopSequences returns the stop_sequences of a Messages request
// body, or nil (also for a body that does not decode), for
// ResponseMeta.StopSequences.
func AnthropicStopSequences(body []byte) []string {
	var b struct {
		StopSequences []string `json:"stop_sequences"`
	}
	if json.Unmarshal(body, &b) != nil {
		return nil
	}
	return b.StopSequences
}

// stopSequence returns the stop sequence an answer that stopped for reason
// stopped on: the one the backend named, else the client's only one; nil
// unless reason is stop_sequence, as Anthropic's API sets it (a backend
// may name a sequence beside another reason, such as max_tokens).
func (m ResponseMeta) stopSequence(reason string, named *string) *string {
	switch {
	case reason != anthropic.StopStopSequence:
		return nil
	case named != nil || len(m.StopSequences) != 1:
		return named
	}
	return &m.StopSequences[0]
}

// Reasoning budgets for OpenAI reasoning_effort values.
var effortBudgets = []struct {
	effort string
	budget int64
}{
	{"minimal", 1024},
	{"low", 2048},
	{"medium", 8192},
	{"high", 16384},
}

// EffortBudget returns the thinking budget in tokens for an OpenAI
// reasoning_effort: minimal 1024, low 2048, medium 8192, high 16384.
// ok is false for other values (including "none").
func EffortBudget(effort string) (budget int64, ok bool) {
	for _, e := range effortBudgets {
		if e.effort == effort {
			return e.budget, true
		}
	}
	return 0, false
}

// BudgetEffort returns the OpenAI reasoning_effort for a thinking budget:
// below 4096 low, below 16384 medium, else high.
func BudgetEffort(budget int64) string {
	switch {
	case budget < 4096:
		return "low"
	case budget < 16384:
		return "medium"
	}
	return "high"
}

// thinkingBudget returns the budget for effort fitting under maxTokens
// (thinking counts against the limit and must leave room for an answer).
func thinkingBudget(r refuser, effort string, maxTokens int64) (int64, error) {
	budget, ok := EffortBudget(effort)
	if !ok {
		return 0, r.because("reasoning_effort", "expressible values: none, minimal, low, medium, high")
	}
	if budget >= maxTokens {
		budget = maxTokens - 1
		if budget < 1024 {
			return 0, r.because("reasoning_effort", "thinking needs a token limit above 1024")
		}
	}
	return budget, nil
}

// dataURL splits a data: URL with base64 payload.
func dataURL(u string) (mediaType string, data []byte, ok bool) {
	rest, found := strings.CutPrefix(u, "data:")
	if !found {
		return "", nil, false
	}
	meta, payload, found := strings.Cut(rest, ",")
	if !found {
		return "", nil, false
	}
	mediaType, isB64 := strings.CutSuffix(meta, ";base64")
	if !isB64 {
		return "", nil, false
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return "", nil, false
	}
	return mediaType, data, true
}

func makeDataURL(mediaType string, data []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(data)
}

// imageFormats maps media types to Converse image formats.
var imageFormats = map[string]string{
	"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp",
}

func imageFormat(mediaType string) (string, bool) {
	f, ok := imageFormats[strings.ToLower(mediaType)]
	return f, ok
}

func imageMediaType(format string) string {
	if format == "jpeg" {
		return "image/jpeg"
	}
	return "image/" + format
}

// documentFormats maps media types to Converse document formats.
var documentFormats = map[string]string{
	"application/pdf": "pdf", "text/csv": "csv", "application/msword": "doc",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
	"application/vnd.ms-excel": "xls",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
	"text/html": "html", "text/plain": "txt", "text/markdown": "md",
}

func documentMediaType(format string) string {
	for m, f := range documentFormats {
		if f == format && m != "image/jpg" {
			return m
		}
	}
	return ""
}

// documentName makes a Converse document name (alphanumerics, single spaces,
// hyphens, parentheses, brackets) from a title or file name.
func documentName(title string, i int) string {
	if dot := strings.LastIndexByte(title, '.'); dot > 0 && len(title)-dot <= 5 {
		title = title[:dot]
	}
	var b strings.Builder
	space := false
	for _, c := range title {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '(', c == ')', c == '[', c == ']':
			b.WriteRune(c)
			space = false
		default:
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
				space = true
			}
		}
		if b.Len() >= 100 {
			break
		}
	}
	name := strings.TrimSpace(b.String())
	if name == "" {
		return "document-" + itoa(i)
	}
	return name
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// objectOrEmpty returns schema, or {"type":"object"} when absent.
func objectOrEmpty(schema json.RawMessage) json.RawMessage {
	if jsonx.IsNull(schema) {
		return json.RawMessage(`{"type":"object","properties":{}}`)
	}
	return schema
}

// validJSONObject reports whether s holds a JSON object (tool arguments).
func validJSONObject(s string) (json.RawMessage, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return json.RawMessage(`{}`), true
	}
	if s[0] != '{' || !json.Valid([]byte(s)) {
		return nil, false
	}
	return json.RawMessage(s), true
}

func ptr[T any](v T) *T { return &v }

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// compactJSON returns raw in compact form for use as a string (tool arguments).
func compactJSON(raw json.RawMessage) string {
	if jsonx.IsNull(raw) {
		return "{}"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}

// refuseSamplingWithThinking refuses sampling members Claude rejects when
// extended thinking is on: temperature other than 1, top_p below 0.95.
func refuseSamplingWithThinking(r refuser, temperature, topP *float64) error {
	if temperature != nil && *temperature != 1 {
		return r.because("temperature", "with reasoning_effort, Claude accepts only temperature 1")
	}
	if topP != nil && *topP < 0.95 {
		return r.because("top_p", "with reasoning_effort, Claude accepts top_p from 0.95 to 1")
	}
	return nil
}

// describeSchema carries a structured output format's description, which
// Anthropic's output_config.format has no member for, into its JSON Schema
// as the root "description" annotation: what JSON Schema defines for
// saying what an instance is for, and what the model reads. A schema with
// a description of its own that differs is refused at path: one of the two
// would be lost (a null description is none). The boolean schema true
// accepts every instance, as {} does, and becomes {"description": d}.
func describeSchema(r refuser, path string, schema json.RawMessage, description string) (json.RawMessage, error) {
	if description == "" {
		return schema, nil
	}
	if string(bytes.TrimSpace(schema)) == "true" {
		schema = json.RawMessage(`{}`)
	}
	var own []byte
	if err := jsonx.Members(schema, func(k, v []byte) error {
		if jsonx.KeyIs(k, "description") {
			own = v
		}
		return nil
	}); err != nil {
		return nil, r.because(path, "the schema must be a JSON object to carry it")
	}
	if own != nil && !jsonx.IsNull(own) {
		if s, ok := jsonx.String(own); ok && s == description {
			return schema, nil
		}
		return nil, r.because(path, "the schema has a description of its own; give one of them")
	}
	raw, _ := json.Marshal(description)
	out, err := jsonx.SetMember(schema, "description", raw)
	if err != nil {
		return nil, r.because(path, "the schema must be a JSON object to carry it")
	}
	return out, nil
}

// openAIStopSequence returns the stop sequence an OpenAI-compatible server
// says a choice stopped on: vLLM's choices[].stop_reason, a string when a
// stop string matched (a token id or null otherwise). OpenAI's own API
// does not say, and then the answer's stop reason stays end_turn.
func openAIStopSequence(finish string, extra jsonx.Extra) *string {
	raw, ok := extra["stop_reason"]
	if finish != openai.FinishStop || !ok {
		return nil
	}
	if s, ok := jsonx.String(raw); ok {
		return &s
	}
	return nil
}

// openAIReasoning returns the reasoning text of an answer's message or
// delta: reasoning_content (DeepSeek's member, older vLLM) or, in extra,
// reasoning (vLLM and OpenRouter now, as OpenAI advised for gpt-oss).
func openAIReasoning(content *string, extra jsonx.Extra) *string {
	if content != nil {
		return content
	}
	if s, ok := jsonx.String(extra["reasoning"]); ok {
		return &s
	}
	return nil
}

// Served tiers. An answer names the tier that served it from its
// dialect's list: OpenAI auto, default, flex, scale, priority; Converse
// default, flex, priority, reserved; Anthropic standard, priority, batch.
// A tier the client's dialect does not define is left out, not passed on
// for the client's SDK to reject: only default (Anthropic's standard) and
// priority are common to all three, flex to OpenAI and Converse.

// converseTier returns the tier a Converse answer says served it in
// OpenAI's names, or "" (reserved has no OpenAI name).
func converseTier(t *converse.ServiceTier) string {
	if t == nil {
		return ""
	}
	switch t.Type {
	case "default", "flex", "priority":
		return t.Type
	}
	return ""
}

// openAITierToConverse names an OpenAI answer's served tier in Converse's
// serviceTier, or returns nil (scale and auto have no Converse name).
func openAITierToConverse(tier string) *converse.ServiceTier {
	switch tier {
	case "default", "flex", "priority":
		return &converse.ServiceTier{Type: tier}
	}
	return nil
}

// anthropicTier names a served Converse or OpenAI tier in Anthropic's
// usage.service_tier, whose standard tier is their default, or returns "".
func anthropicTier(tier string) string {
	switch tier {
	case "default":
		return "standard"
	case "priority":
		return tier
	}
	return ""
}

// tierFromAnthropic names an Anthropic answer's served tier
// (usage.service_tier) as OpenAI and Converse do: standard is their
// default. Other tiers (batch) have no name there and give "".
func tierFromAnthropic(tier string) string {
	switch tier {
	case "standard":
		return "default"
	case "priority":
		return tier
	}
	return ""
}

// hasCitations reports whether a block's citations member says something:
// null, an empty list and {"enabled": false} (a document's setting) are
// the same as no member, and a translator may leave them out.
func hasCitations(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	switch {
	case jsonx.IsNull(raw), string(raw) == "[]":
		return false
	case raw[0] == '{':
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) == nil && (len(m) == 0 || len(m) == 1 && string(bytes.TrimSpace(m["enabled"])) == "false") {
			return false
		}
	}
	return true
}

// serverToolUse is why a Converse toolUse with a type is refused: Bedrock
// defines one type, server_tool_use, the call of a tool Bedrock itself ran
// (a system tool), which has no client-tool form in another dialect.
const serverToolUse = "a call of a Bedrock server tool; only client tool calls can be sent to this model"

// emptyStart and emptyDelta report whether a Converse stream event's start
// or delta union has no member at all (null members count as absent): it
// says nothing, and a stream translator skips it.
func emptyStart(st *converse.BlockStart) bool {
	return st.ToolUse == nil && !present(st.ToolResult) && !present(st.Image) && len(st.Extra) == 0
}

func emptyDelta(d *converse.BlockDelta) bool {
	return d.Text == nil && d.ToolUse == nil && d.ReasoningContent == nil && !present(d.Citation) && !present(d.ToolResult) && !present(d.Image) && len(d.Extra) == 0
}

// strayMember checks a stream event's start or delta union that sets a
// member this package knows: a second member, known or not, would be lost
// with it, so the answer fails naming it. A tool call start that is not
// the client's own (a server tool call, type server_tool_use) fails too:
// the client would run it as its own tool call. target names the
// client's API.
func strayMember(st *converse.BlockStart, d *converse.BlockDelta, target string) error {
	var known []string
	var extra jsonx.Extra
	if st != nil {
		for _, m := range []member{{"toolUse", st.ToolUse != nil}, {"toolResult", present(st.ToolResult)}, {"image", present(st.Image)}} {
			if m.set {
				known = append(known, m.name)
			}
		}
		extra = st.Extra
		if tu := st.ToolUse; tu != nil && tu.Type != "" {
			return failAnswer("unsupported", "content block start toolUse of type "+clipName(tu.Type)+" (a tool the backend runs) has no "+target+" form")
		}
	} else {
		for _, m := range []member{{"text", d.Text != nil}, {"toolUse", d.ToolUse != nil}, {"reasoningContent", d.ReasoningContent != nil},
			{"citation", present(d.Citation)}, {"toolResult", present(d.ToolResult)}, {"image", present(d.Image)}} {
			if m.set {
				known = append(known, m.name)
			}
		}
		extra = d.Extra
	}
	switch {
	case len(known) == 0:
		return nil // the caller refuses or skips it
	case len(known) > 1:
		return failAnswer("unsupported", "a stream event sets both "+known[0]+" and "+known[1]+" of a union")
	case len(extra) > 0:
		return failAnswer("unsupported", "member "+firstKey(extra)+" next to "+known[0]+" has no "+target+" form")
	}
	return nil
}

// serverToolCall refuses a Converse answer's tool call of a type other
// than the client's own (server_tool_use: a tool the backend ran, such as
// Nova's grounding). A client shown it as a tool call would run a tool it
// never defined; Messages' server_tool_use block is for Anthropic's own
// server tools, whose results have block types Converse does not send.
func serverToolCall(r refuser, p, typ string) error {
	return r.because(p+".toolUse.type", clipName(typ)+" (a tool the backend runs) has no client form")
}

// clipName bounds a name a backend or caller sent before it reaches a
// message, cutting at a character boundary.
func clipName(k string) string {
	if len(k) <= 64 {
		return k
	}
	return runePrefix(k, 64) + "…"
}

// startMember and deltaMember name the member set in a stream event's start
// or delta union, or its first member this package does not know (clipped:
// the name reaches the client in an error).
func startMember(st *converse.BlockStart) string {
	switch {
	case st.ToolUse != nil:
		return "toolUse"
	case present(st.ToolResult):
		return "toolResult"
	case present(st.Image):
		return "image"
	}
	return firstKey(st.Extra)
}

func deltaMember(d *converse.BlockDelta) string {
	switch {
	case d.Text != nil:
		return "text"
	case d.ToolUse != nil:
		return "toolUse"
	case d.ReasoningContent != nil:
		return "reasoningContent"
	case present(d.Citation):
		return "citation"
	case present(d.ToolResult):
		return "toolResult"
	case present(d.Image):
		return "image"
	}
	return firstKey(d.Extra)
}

func firstKey(e jsonx.Extra) string {
	keys := e.Keys()
	if len(keys) == 0 {
		return "(empty)"
	}
	return clipName(keys[0])
}

// toolErrorLine is the first line of a Chat Completions tool message whose
// result the caller marked as failed (an Anthropic tool_result with
// is_error: true, a Converse toolResult with status "error"). Chat
// Completions tool messages have no error flag, so the status reaches the
// model in the content: this line, then a line break and the result's
// content as it would be sent otherwise (the line alone when that is
// empty). docs/api.md documents the form.
const toolErrorLine = "Error:"

// openAIToolResult is the content of a Chat Completions tool message for a
// result with content, marked as failed or not.
func openAIToolResult(content string, failed bool) *openai.Content {
	if failed {
		if content == "" {
			content = toolErrorLine
		} else {
			content = toolErrorLine + "\n" + content
		}
	}
	return openai.TextContent(content)
}

// toolResultStatus refuses a Converse toolResult status (the block at
// path) other than the two Converse defines, success and error: any other
// value has no meaning to carry, and reading it as success would tell the
// model a failed tool worked.
func toolResultStatus(r refuser, path, status string) error {
	if status != "" && status != "success" && status != "error" {
		return r.because(path+".toolResult.status", "Converse defines a tool result's status as success or error")
	}
	return nil
}
