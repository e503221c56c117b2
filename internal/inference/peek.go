package inference

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// MaxModelBytes bounds a model field: the longest profile ARN is far
// shorter.
const MaxModelBytes = 2048

// Peek reads, from a client's body in dialect d, only what the gateway acts
// on: the model (OpenAI carries it in the body; model names it otherwise),
// streaming, max tokens, the features used and an estimate of the prompt's
// tokens. It decodes no content and keeps body as the request's Body. An
// error is an *Error of kind KindInvalidRequest naming the field at fault;
// the returned request is never nil, so the refusal can be recorded.
//
// For DialectAnthropic and DialectInvoke (InvokeModel bodies), use
// [PeekInvoke], which tells the two apart.
func Peek(d Dialect, model string, body []byte, stream bool) (*Request, error) {
	req := &Request{Model: model, Dialect: d, Body: body, Stream: stream}
	var err error
	switch d {
	case DialectOpenAIChat:
		err = peekOpenAI(req)
	case DialectConverse:
		err = peekConverse(req)
	case DialectAnthropic:
		err = peekAnthropic(req)
	case DialectInvoke:
		err = peekInvoke(req)
	case DialectOpenAIEmbeddings:
		err = peekEmbeddings(req)
	default:
		err = Errorf(KindInternal, "request dialect %s cannot be read", d)
	}
	return req, err
}

// editedMembersPlain refuses a body that names one of the members
// Meridian edits before sending it upstream (the model id, and the
// stream's usage option) more than once, escaped or in another case. The
// edit (AppendSetField) replaces the member written as named; encoding/json
// reads the last member whose name matches in any case, and an upstream's
// parser may read either: the body would be routed on one value and send
// another. Only bodies the fast scanner could not read come here.
func editedMembersPlain(body []byte, names ...string) error {
	var seen [2]int
	var odd [2]bool
	Members(body, func(k, _ []byte) {
		s := string(k) // k is the name as sent, without its quotes
		if strings.IndexByte(s, '\\') >= 0 {
			if err := json.Unmarshal([]byte(`"`+s+`"`), &s); err != nil {
				return
			}
		}
		for i, n := range names[:min(len(names), len(seen))] {
			if strings.EqualFold(s, n) {
				seen[i]++
				odd[i] = odd[i] || string(k) != n
			}
		}
	})
	for i, n := range names[:min(len(names), len(seen))] {
		switch {
		case seen[i] > 1:
			return Invalid(n, n+" is named more than once; send it once")
		case odd[i]:
			return Invalid(n, n+" is named with an escape or in another case; send it as "+strconv.Quote(n))
		}
	}
	return nil
}

// PeekInvoke peeks at an InvokeModel body: an Anthropic Messages body (it
// carries anthropic_version, or the model is an Anthropic one) or another
// family's, carried unchanged.
func PeekInvoke(model string, body []byte, stream bool) (*Request, error) {
	return Peek(InvokeDialect(model, body), model, body, stream)
}

// InvokeDialect tells an Anthropic Messages InvokeModel body from another
// family's.
func InvokeDialect(model string, body []byte) Dialect {
	if Field(body, "anthropic_version") != nil || strings.Contains(model, "anthropic.") {
		return DialectAnthropic
	}
	return DialectInvoke
}

// Invalid returns a KindInvalidRequest error naming param.
func Invalid(param, msg string) *Error {
	return &Error{Kind: KindInvalidRequest, Message: msg, Param: param}
}

// decodeError describes a JSON decoding error of body, naming the field
// when the JSON is valid but a field has the wrong type.
func decodeError(err error, what string) *Error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return Invalid("", typeProblem("the request body", te))
		}
		f := Clip(te.Field, EchoLimit)
		return Invalid(f, typeProblem(f, te))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Invalid("", what+" is not valid JSON: "+err.Error()+" at byte "+strconv.FormatInt(se.Offset, 10))
	}
	return Invalid("", what+" is not valid JSON: "+Clip(err.Error(), 2*EchoLimit))
}

// typeProblem says what field should have been, without the caller's
// literal (te.Value is "number 1e400", with the number in full).
func typeProblem(field string, te *json.UnmarshalTypeError) string {
	got, _, _ := strings.Cut(te.Value, " ")
	return field + " must be " + jsonType(te.Type.Kind().String()) + ", not " + Clip(got, 16)
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer in range"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

// openaiPeek is the part of a chat completions request the gateway reads.
type openaiPeek struct {
	Model               string          `json:"model"`
	Messages            []openaiMessage `json:"messages"`
	MaxTokens           *int            `json:"max_tokens"`
	MaxCompletionTokens *int            `json:"max_completion_tokens"`
	Temperature         *float64        `json:"temperature"`
	TopP                *float64        `json:"top_p"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	N              *int            `json:"n"`
	Tools          json.RawMessage `json:"tools"`
	Functions      json.RawMessage `json:"functions"`
	ToolChoice     json.RawMessage `json:"tool_choice"`
	ResponseFormat *struct {
		Type string `json:"type"`
	} `json:"response_format"`
	Logprobs        *bool           `json:"logprobs"`
	TopLogprobs     *int            `json:"top_logprobs"`
	ReasoningEffort json.RawMessage `json:"reasoning_effort"`
	Stop            json.RawMessage `json:"stop"`
	// Metadata is recorded in the audit trail; the body carries it on.
	Metadata map[string]string `json:"metadata"`
}

// msgField names messages[i]; built only for a feature or a refusal.
func msgField(i int) string { return "messages[" + strconv.Itoa(i) + "]" }

// openaiMessage is the part of a chat message the gateway reads.
type openaiMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  json.RawMessage `json:"tool_calls"`
	ToolCallID json.RawMessage `json:"tool_call_id"`
}

// contentPart is the part of a content part (any dialect) peek reads.
type contentPart struct {
	Type         string          `json:"type"`
	CacheControl json.RawMessage `json:"cache_control"`
}

func peekOpenAI(req *Request) error {
	var p openaiPeek
	if !scanOpenAI(req.Body, &p) {
		// A body the scanner does not take as plain is decoded by
		// encoding/json, which names the fault.
		q := new(openaiPeek) // on the heap here only: p stays on the stack
		if err := json.Unmarshal(req.Body, q); err != nil {
			return decodeError(err, "request body")
		}
		if err := editedMembersPlain(req.Body, "model", "stream_options"); err != nil {
			return err
		}
		p = *q
	}
	req.Model, req.Stream = p.Model, p.Stream
	req.IncludeUsage = p.StreamOptions != nil && p.StreamOptions.IncludeUsage
	switch {
	case p.Model == "":
		return Invalid("model", "you must provide a model: an inference profile id (e.g. eu.demo.chat-small), a profile ARN or a model id")
	case len(p.Model) > MaxModelBytes:
		req.Model = Clip(p.Model, MaxModelBytes)
		return Invalid("model", "model is "+strconv.Itoa(len(p.Model))+" bytes long; a profile id, profile ARN or model id is at most "+strconv.Itoa(MaxModelBytes))
	case len(p.Messages) == 0:
		return Invalid("messages", "messages must be a non-empty array")
	case p.N != nil && *p.N < 1:
		return Invalid("n", "n must be at least 1")
	case p.Temperature != nil && (*p.Temperature < 0 || *p.Temperature > 2):
		return Invalid("temperature", "temperature must be between 0 and 2")
	case p.TopP != nil && (*p.TopP < 0 || *p.TopP > 1):
		return Invalid("top_p", "top_p must be between 0 and 1")
	case !isNull(p.Stop) && p.Stop[0] != '"' && p.Stop[0] != '[':
		return Invalid("stop", "stop must be a string or an array of strings")
	}
	switch {
	case p.MaxCompletionTokens != nil:
		req.MaxTokens, req.MaxTokensParam = *p.MaxCompletionTokens, "max_completion_tokens"
	case p.MaxTokens != nil:
		req.MaxTokens, req.MaxTokensParam = *p.MaxTokens, "max_tokens"
	}
	if req.MaxTokens < 0 {
		return Invalid(req.MaxTokensParam, req.MaxTokensParam+" must not be negative")
	}
	if len(p.Metadata) > 0 {
		if err := ValidateOpenAIMetadata(p.Metadata); err != nil {
			return Invalid("metadata", "metadata "+err.Error())
		}
		req.Metadata = p.Metadata
	}
	if p.N != nil && *p.N > 1 {
		req.Use(FeatureN, "n")
	}
	if isSet(p.Tools) {
		req.Use(FeatureTools, "tools")
	}
	if isSet(p.Functions) {
		req.Use(FeatureTools, "functions")
	}
	if p.ResponseFormat != nil && (p.ResponseFormat.Type == "json_schema" || p.ResponseFormat.Type == "json_object") {
		req.Use(FeatureJSONSchema, "response_format")
	}
	if (p.Logprobs != nil && *p.Logprobs) || p.TopLogprobs != nil {
		req.Use(FeatureLogprobs, "logprobs")
	}
	switch {
	case isNone(p.ReasoningEffort):
		// Chat Completions passes the body through, and an OpenAI model
		// without reasoning refuses the parameter whatever its value, so
		// an OpenAI-compatible deployment takes "none" only with the
		// reasoning capability; a Bedrock deployment takes it without
		// (see FeatureReasoningNone).
		req.Use(FeatureReasoningNone, "reasoning_effort")
	case isSet(p.ReasoningEffort):
		req.Use(FeatureReasoning, "reasoning_effort")
	}
	n := 0
	var scratch []contentPart // reused by every message's content parts
	for i, m := range p.Messages {
		switch m.Role {
		case "system", "developer", "user", "assistant":
		case "tool", "function":
			req.Use(FeatureTools, msgField(i)+".role")
		default:
			return Invalid(msgField(i)+".role", "role "+strconv.Quote(Clip(m.Role, EchoLimit))+" is not supported (use system, developer, user, assistant or tool)")
		}
		if isSet(m.ToolCalls) {
			req.Use(FeatureTools, msgField(i)+".tool_calls")
		}
		n = SaturatingAdd(n, 4+estimateJSON(m.Content))
		c := bytes.TrimSpace(m.Content)
		if len(c) == 0 || c[0] != '[' {
			continue
		}
		parts, ok := scanParts(c, scratch[:0])
		if !ok {
			decoded := new([]contentPart)
			if err := json.Unmarshal(c, decoded); err != nil {
				return Invalid(msgField(i)+".content", "content must be a string or an array of content parts")
			}
			parts = *decoded
		} else {
			scratch = parts
		}
		for j, part := range parts {
			switch part.Type {
			case "image_url":
				req.Use(FeatureVision, msgField(i)+".content["+strconv.Itoa(j)+"]")
			case "file":
				req.Use(FeatureDocuments, msgField(i)+".content["+strconv.Itoa(j)+"]")
			}
		}
	}
	req.InputTokens = max(n, 1)
	return nil
}

// conversePeek is the part of a Converse request the gateway reads.
type conversePeek struct {
	Messages []struct {
		Role    string            `json:"role"`
		Content []json.RawMessage `json:"content"`
	} `json:"messages"`
	System          []json.RawMessage `json:"system"`
	InferenceConfig *struct {
		MaxTokens   *int     `json:"maxTokens"`
		Temperature *float64 `json:"temperature"`
		TopP        *float64 `json:"topP"`
	} `json:"inferenceConfig"`
	ToolConfig                   json.RawMessage   `json:"toolConfig"`
	AdditionalModelRequestFields json.RawMessage   `json:"additionalModelRequestFields"`
	OutputConfig                 json.RawMessage   `json:"outputConfig"`
	RequestMetadata              map[string]string `json:"requestMetadata"`
}

// converseBlockFeatures maps a Converse content block member to the
// feature it uses.
var converseBlockFeatures = map[string]Feature{
	"image": FeatureVision, "video": FeatureVision, "document": FeatureDocuments,
	"toolUse": FeatureTools, "toolResult": FeatureTools, "cachePoint": FeaturePromptCaching,
	"reasoningContent": FeatureReasoning,
}

func peekConverse(req *Request) error {
	body := req.Body
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	var p conversePeek
	if err := json.Unmarshal(body, &p); err != nil {
		return decodeError(err, "request body")
	}
	if len(p.Messages) == 0 {
		return Invalid("messages", "messages must be a non-empty list")
	}
	if err := ValidateMetadata(p.RequestMetadata); err != nil {
		return Invalid("requestMetadata", "requestMetadata "+err.Error())
	}
	if len(p.RequestMetadata) > 0 {
		// Recorded in the audit trail, as Bedrock's invocation logs do.
		req.Metadata = p.RequestMetadata
	}
	if ic := p.InferenceConfig; ic != nil {
		if ic.MaxTokens != nil {
			if *ic.MaxTokens < 1 {
				return Invalid("inferenceConfig.maxTokens", "inferenceConfig.maxTokens must be at least 1")
			}
			req.MaxTokens = *ic.MaxTokens
		}
		if t := ic.Temperature; t != nil && (*t < 0 || *t > 1) {
			return Invalid("inferenceConfig.temperature", "inferenceConfig.temperature must be between 0 and 1")
		}
		if t := ic.TopP; t != nil && (*t < 0 || *t > 1) {
			return Invalid("inferenceConfig.topP", "inferenceConfig.topP must be between 0 and 1")
		}
	}
	if isSet(p.ToolConfig) {
		req.Use(FeatureTools, "toolConfig")
	}
	// Claude's thinking, Nova's reasoningConfig (reasoning_config), gpt-oss's
	// reasoning_effort: each family's reasoning member.
	if a := p.AdditionalModelRequestFields; isSet(a) && (Field(a, "thinking") != nil || Field(a, "reasoning_config") != nil || Field(a, "reasoningConfig") != nil ||
		Field(a, "reasoning_effort") != nil) {
		req.Use(FeatureReasoning, "additionalModelRequestFields")
	}
	if isSet(p.OutputConfig) {
		req.Use(FeatureJSONSchema, "outputConfig")
	}
	block := func(b json.RawMessage, field string) {
		for member, f := range converseBlockFeatures {
			if Field(b, member) != nil {
				req.Use(f, field+"."+member)
			}
		}
	}
	n := 0
	for i, b := range p.System {
		block(b, "system["+strconv.Itoa(i)+"]")
		n = SaturatingAdd(n, estimateJSON(b))
	}
	for i, m := range p.Messages {
		field := "messages[" + strconv.Itoa(i) + "]"
		// Converse's roles: user, assistant, and system, whose messages
		// hold toolAddition and toolRemoval blocks (tools made available or
		// withdrawn mid-conversation, bedrockruntime's
		// ConversationRoleSystem). A system message goes through as it is
		// to a deployment that takes Converse; a translation refuses it by
		// name (internal/translate/converse_anthropic.go,
		// converse_openai.go).
		if m.Role != "user" && m.Role != "assistant" && m.Role != "system" {
			return Invalid(field+".role", field+".role "+strconv.Quote(Clip(m.Role, EchoLimit))+" is not supported (use user, assistant or system)")
		}
		if len(m.Content) == 0 {
			return Invalid(field+".content", field+".content must hold at least one content block")
		}
		n = SaturatingAdd(n, 4)
		for j, b := range m.Content {
			block(b, field+".content["+strconv.Itoa(j)+"]")
			n = SaturatingAdd(n, estimateJSON(b))
		}
	}
	req.InputTokens = max(n, 1)
	return nil
}

// anthropicPeek is the part of an Anthropic Messages body the gateway
// reads.
type anthropicPeek struct {
	AnthropicVersion *string `json:"anthropic_version"`
	Messages         []struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	} `json:"messages"`
	System      json.RawMessage `json:"system"`
	MaxTokens   *int            `json:"max_tokens"`
	Temperature *float64        `json:"temperature"`
	TopP        *float64        `json:"top_p"`
	Tools       json.RawMessage `json:"tools"`
	ToolChoice  json.RawMessage `json:"tool_choice"`
	Thinking    json.RawMessage `json:"thinking"`
	// OutputFormat (beta) and OutputConfig.Format ask for structured
	// output; OutputConfig.Effort for an effort level, which a deployment
	// honours through its reasoning (reasoning_effort toward OpenAI).
	OutputFormat json.RawMessage `json:"output_format"`
	OutputConfig json.RawMessage `json:"output_config"`
}

// thinks reports whether an Anthropic thinking configuration asks for
// reasoning: any but {"type": "disabled"}, which asks for none (every
// deployment honours it, as the translator to Converse sends nothing for
// it to a model that cannot reason). A configuration that is not an object
// with a type counts as asking, so that it is never routed to a deployment
// that could not honour it.
func thinks(raw json.RawMessage) bool {
	if !isSet(raw) {
		return false
	}
	var t struct {
		Type *string `json:"type"`
	}
	return json.Unmarshal(raw, &t) != nil || t.Type == nil || *t.Type != "disabled"
}

var anthropicBlockFeatures = map[string]Feature{
	"image": FeatureVision, "document": FeatureDocuments, "tool_use": FeatureTools, "tool_result": FeatureTools,
	"thinking": FeatureReasoning, "redacted_thinking": FeatureReasoning,
}

func peekAnthropic(req *Request) error {
	var p anthropicPeek
	if err := json.Unmarshal(req.Body, &p); err != nil {
		return decodeError(err, "request body for the Anthropic Messages API")
	}
	switch {
	case p.AnthropicVersion == nil || *p.AnthropicVersion == "":
		return Invalid("anthropic_version", "anthropic_version is required (e.g. bedrock-2023-05-31)")
	case p.MaxTokens == nil:
		return Invalid("max_tokens", "max_tokens is required")
	case *p.MaxTokens < 1:
		return Invalid("max_tokens", "max_tokens must be at least 1")
	case len(p.Messages) == 0:
		return Invalid("messages", "messages must be a non-empty list")
	case p.Temperature != nil && (*p.Temperature < 0 || *p.Temperature > 1):
		return Invalid("temperature", "temperature must be between 0 and 1")
	case p.TopP != nil && (*p.TopP < 0 || *p.TopP > 1):
		return Invalid("top_p", "top_p must be between 0 and 1")
	}
	req.MaxTokens, req.MaxTokensParam = *p.MaxTokens, "max_tokens"
	if isSet(p.Tools) {
		req.Use(FeatureTools, "tools")
	}
	if isSet(p.ToolChoice) {
		req.Use(FeatureTools, "tool_choice")
	}
	if thinks(p.Thinking) {
		req.Use(FeatureReasoning, "thinking")
	}
	// An output_config that is not an object is left to the translation,
	// which refuses it by name.
	var oc struct {
		Format json.RawMessage `json:"format"`
		Effort json.RawMessage `json:"effort"`
	}
	if isSet(p.OutputConfig) && json.Unmarshal(p.OutputConfig, &oc) == nil {
		if isSet(oc.Format) {
			req.Use(FeatureJSONSchema, "output_config.format")
		}
		if isSet(oc.Effort) {
			req.Use(FeatureReasoning, "output_config.effort")
		}
	}
	if isSet(p.OutputFormat) {
		req.Use(FeatureJSONSchema, "output_format")
	}
	blocks := func(raw json.RawMessage, field string) error {
		c := bytes.TrimSpace(raw)
		if len(c) == 0 || c[0] != '[' {
			return nil
		}
		var parts []contentPart
		if err := json.Unmarshal(c, &parts); err != nil {
			return Invalid(field, field+" must be a string or a list of content blocks")
		}
		for j, part := range parts {
			pf := field + "[" + strconv.Itoa(j) + "]"
			if f, ok := anthropicBlockFeatures[part.Type]; ok {
				req.Use(f, pf)
			}
			if isSet(part.CacheControl) {
				req.Use(FeaturePromptCaching, pf+".cache_control")
			}
		}
		return nil
	}
	if err := blocks(p.System, "system"); err != nil {
		return err
	}
	n := estimateJSON(p.System)
	for i, m := range p.Messages {
		field := "messages[" + strconv.Itoa(i) + "]"
		if m.Role != "user" && m.Role != "assistant" {
			return Invalid(field+".role", field+".role "+strconv.Quote(Clip(m.Role, EchoLimit))+" is not supported (use user or assistant)")
		}
		if err := blocks(m.Content, field+".content"); err != nil {
			return err
		}
		n = SaturatingAdd(n, 4+estimateJSON(m.Content))
	}
	req.InputTokens = max(n, 1)
	return nil
}

// invokeMaxTokens lists, per model family, where an InvokeModel body bounds
// its output.
var invokeMaxTokens = [][]string{
	{"max_tokens"},  // Anthropic, Mistral, Cohere, AI21 Jamba
	{"max_gen_len"}, // Meta Llama
	{"maxTokens"},   // AI21 Jurassic
	{"textGenerationConfig", "maxTokenCount"}, // Amazon Titan
	{"inferenceConfig", "max_new_tokens"},     // Amazon Nova
	{"inferenceConfig", "maxTokens"},          // Amazon Nova (camel case)
	{"parameters", "max_new_tokens"},          // imported models
}

func peekInvoke(req *Request) error {
	b := bytes.TrimSpace(req.Body)
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return Invalid("", "request body is not a valid JSON object")
	}
	for _, path := range invokeMaxTokens {
		v := b
		for _, k := range path {
			if v = Field(v, k); v == nil {
				break
			}
		}
		if v == nil {
			continue
		}
		n, err := strconv.Atoi(string(v))
		param := strings.Join(path, ".")
		if err != nil || n < 1 {
			return Invalid(param, param+" must be a positive integer")
		}
		req.MaxTokens, req.MaxTokensParam = n, param
		break
	}
	req.InputTokens = max(estimateJSON(b), 1)
	return nil
}

// isNone reports whether raw, a JSON value, is the string "none" (in any
// spelling JSON allows: escapes decode as the model server decodes them).
func isNone(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '"' {
		return false
	}
	var s string
	return json.Unmarshal(raw, &s) == nil && s == "none"
}

// ConverseHasSystemRole reports whether a Converse body holds a message of
// role "system" (toolAddition and toolRemoval blocks): nodes of inter-region
// link version 7 and later accept it (internal/interregion/wire.go,
// linkConverseSystemRole), an older one refuses it as an unknown role. A
// body that does not decode holds none.
func ConverseHasSystemRole(body []byte) bool {
	if !bytes.Contains(body, []byte(`system`)) {
		return false
	}
	var p struct {
		Messages []struct {
			Role string `json:"role"`
		} `json:"messages"`
	}
	if json.Unmarshal(body, &p) != nil {
		return false
	}
	for _, m := range p.Messages {
		if m.Role == "system" {
			return true
		}
	}
	return false
}
