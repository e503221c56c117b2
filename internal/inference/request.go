package inference

import "time"

// Role is the author of a message.
type Role string

// Roles a message may have.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Block is one piece of a message's content. Only text is carried today;
// front ends reject content kinds they cannot translate rather than drop them.
type Block struct {
	Text string `json:"text"`
}

// Message is one turn of a conversation.
type Message struct {
	Role    Role    `json:"role"`
	Content []Block `json:"content"`
}

// Text returns the concatenated text of the message's blocks.
func (m Message) Text() string {
	if len(m.Content) == 1 {
		return m.Content[0].Text
	}
	n := 0
	for _, b := range m.Content {
		n += len(b.Text)
	}
	buf := make([]byte, 0, n)
	for _, b := range m.Content {
		buf = append(buf, b.Text...)
	}
	return string(buf)
}

// TextMessage returns a message with a single text block.
func TextMessage(role Role, text string) Message {
	return Message{Role: role, Content: []Block{{Text: text}}}
}

// Request is an inference request as the gateway acts on it. Front ends
// fill it by peeking at the client's body (see [Peek]): the fields the
// gateway routes, admits and audits on, plus the body itself, which the
// backend forwards as received when it speaks the request's dialect.
//
// Messages and the sampling fields below it are the canonical, text-only
// form of the conversation: requests built in code (tests, the simulator)
// set them instead of Body, and [Request.Canonical] derives them from Body
// when a backend of another dialect must re-encode the request.
type Request struct {
	// Model is what the caller named in its request: a profile id, a profile
	// ARN or a model id. Backends receive the deployment's upstream model
	// instead (see backend adapters).
	Model string `json:"model"`
	// Dialect is the wire format of Body.
	Dialect Dialect `json:"-"`
	// Body is the client's request body as received, in Dialect. Nil for a
	// request built in code.
	Body []byte `json:"-"`
	// Features are the capabilities the request uses; routing sends it only
	// to deployments that have them all.
	Features Features `json:"-"`
	// InputTokens is the estimate of the prompt's size that the front end
	// computed from Body; zero means derive it from Messages.
	InputTokens int `json:"-"`
	// IncludeUsage is true when an OpenAI streaming caller asked for the
	// final usage chunk (stream_options.include_usage).
	IncludeUsage bool `json:"-"`
	// FeatureFields names, per feature, the caller's field that uses it,
	// for the 400 that refuses it.
	FeatureFields map[Feature]string `json:"-"`
	// Messages is the conversation, system messages first.
	Messages []Message `json:"messages"`
	// MaxTokens bounds the completion; zero means the backend's default.
	// The gateway refuses a negative value or one above the model's
	// context window (see gateway.MaxTokensBound).
	MaxTokens int `json:"maxTokens,omitempty"`
	// MaxTokensParam names the caller's field that set MaxTokens in the
	// front end's dialect (e.g. "max_completion_tokens"), for the 400 that
	// refuses it. If empty, the gateway names the operation's usual field.
	MaxTokensParam string `json:"-"`
	// Temperature and TopP are nil when the caller did not set them.
	Temperature *float64 `json:"temperature,omitempty"`
	TopP        *float64 `json:"topP,omitempty"`
	// Stop lists stop sequences.
	Stop []string `json:"stop,omitempty"`
	// Seed asks for deterministic sampling where the backend supports it.
	Seed *int64 `json:"seed,omitempty"`
	// Stream asks for incremental delivery.
	Stream bool `json:"stream,omitempty"`
	// User is an opaque end-user identifier passed through to backends.
	User string `json:"user,omitempty"`
	// Metadata is the caller's request metadata (Converse requestMetadata
	// and InvokeModel's request metadata header, checked with
	// [ValidateMetadata]; OpenAI metadata, checked with
	// [ValidateOpenAIMetadata]). It is recorded in the audit trail; where
	// it goes upstream, per deployment type, docs/api.md says (Request
	// metadata).
	Metadata map[string]string `json:"metadata,omitempty"`
	// ServiceTier is the tier the gateway admits the request in (see
	// [ParseServiceTier]); empty is default. It crosses the inter-region
	// link in the signed envelope (the body may not name it: a header
	// can), so the destination admits it in the same tier.
	ServiceTier ServiceTier `json:"serviceTier,omitempty"`
}

// Use records that the request uses f through the caller's field.
func (r *Request) Use(f Feature, field string) {
	r.Features = r.Features.With(f)
	if _, ok := r.FeatureFields[f]; ok {
		return
	}
	if r.FeatureFields == nil {
		r.FeatureFields = map[Feature]string{}
	}
	r.FeatureFields[f] = field
}

// FeatureField names the caller's field that uses f ("tools",
// "messages[2].content[0].image_url"), or f's name when none was recorded.
func (r *Request) FeatureField(f Feature) string {
	if field, ok := r.FeatureFields[f]; ok {
		return field
	}
	return f.String()
}

// EstimatedInputTokens is a cheap, deterministic estimate of the prompt's size
// in tokens (about four bytes a token, plus a few per message), used for
// admission and token-aware routing before the backend reports real usage.
func (r *Request) EstimatedInputTokens() int {
	if r.InputTokens > 0 {
		return r.InputTokens
	}
	n := 0
	for _, m := range r.Messages {
		n = SaturatingAdd(n, 4)
		for _, b := range m.Content {
			n = SaturatingAdd(n, EstimateTokens(len(b.Text)))
		}
	}
	return n
}

// EstimateTokens is the token estimate of n bytes of text (about four bytes
// a token), used wherever a backend reported no usage.
func EstimateTokens(n int) int {
	if n <= 0 {
		return 0
	}
	return n/4 + min(n%4, 1)
}

// StopReason says why a completion ended, in Bedrock's vocabulary
// (OpenAI's finish_reason is mapped by the OpenAI front end).
type StopReason string

// Stop reasons.
const (
	StopEndTurn         StopReason = "end_turn"
	StopMaxTokens       StopReason = "max_tokens"
	StopSequence        StopReason = "stop_sequence"
	StopContentFiltered StopReason = "content_filtered"
)

// Usage counts tokens as the backend reported them.
type Usage struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
	// CacheReadInputTokens and CacheWriteInputTokens are prompt tokens
	// read from and written to the backend's prompt cache, in addition to
	// InputTokens (Bedrock's and Anthropic's convention; the OpenAI backend
	// moves OpenAI's cached_tokens out of prompt_tokens to match); zero
	// when the backend reports none. Quotas count writes and not reads.
	CacheReadInputTokens  int `json:"cacheReadInputTokens,omitempty"`
	CacheWriteInputTokens int `json:"cacheWriteInputTokens,omitempty"`
}

// Total returns input plus output tokens, saturating rather than wrapping
// when an upstream reports absurd counts.
func (u Usage) Total() int { return SaturatingAdd(u.InputTokens, u.OutputTokens) }

// Response is a complete (non-streaming) inference result.
//
// A backend that served the request in its own dialect sets Dialect and
// Body (the upstream's answer, byte for byte) and reads Usage from it; one
// that re-encoded a request of another dialect fills Message and
// StopReason instead, and leaves Body nil.
type Response struct {
	// ID is the backend's completion id, if it gave one.
	ID string `json:"id,omitempty"`
	// Model is the upstream model that produced the answer.
	Model string `json:"model,omitempty"`
	// Dialect is the format of Body.
	Dialect Dialect `json:"dialect,omitempty"`
	// Body is the upstream's answer as received, when it is in the
	// request's dialect.
	Body       []byte     `json:"body,omitempty"`
	Message    Message    `json:"message"`
	StopReason StopReason `json:"stopReason"`
	Usage      Usage      `json:"usage"`
	// Latency is the time the backend took, as measured by the executor.
	Latency time.Duration `json:"latency,omitempty"`
	// Receipt is the residency receipt the inference region signed for
	// this answer (docs/receipts.md), when one was asked for; it travels
	// back over the link with the answer.
	Receipt string `json:"receipt,omitempty"`
	// ServiceTier is the service tier the upstream reports it served the
	// answer in, when it reports one (Amazon Bedrock: InvokeModel's
	// X-Amzn-Bedrock-Service-Tier response header, Converse's
	// serviceTier.type); empty otherwise. It is set where the backend
	// ran. The link's compact answer form does not carry it, its JSON form
	// does; the source takes it only from an answer served in its own
	// region (internal/gateway/tier.go, CopyServedTier), so that what it
	// reports does not depend on the link's encoding.
	ServiceTier string `json:"serviceTier,omitempty"`
}

// Text returns the answer's text, for content recording: the Message's, or
// the text extracted from Body.
func (r *Response) Text() string {
	if r.Body == nil {
		return r.Message.Text()
	}
	return answerText(r.Dialect, r.Body)
}
