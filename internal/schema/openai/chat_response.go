package openai

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// Finish reasons.
const (
	FinishStop          = "stop"
	FinishLength        = "length"
	FinishToolCalls     = "tool_calls"
	FinishContentFilter = "content_filter"
	FinishFunctionCall  = "function_call"
)

// ChatCompletion is a non-streaming Chat Completions response
// (object "chat.completion").
type ChatCompletion struct {
	ID                string      `json:"id"`
	Object            string      `json:"object"`
	Created           int64       `json:"created"`
	Model             string      `json:"model"`
	Choices           []Choice    `json:"choices"`
	Usage             *Usage      `json:"usage,omitempty"`
	ServiceTier       string      `json:"service_tier,omitempty"`
	SystemFingerprint string      `json:"system_fingerprint,omitempty"`
	Extra             jsonx.Extra `json:"-"`
}

// Choice is one completion choice.
type Choice struct {
	Index        int64       `json:"index"`
	Message      Message     `json:"message"`
	FinishReason string      `json:"finish_reason"`
	Logprobs     *Logprobs   `json:"logprobs,omitempty"`
	Extra        jsonx.Extra `json:"-"`
}

// Logprobs holds token log probabilities of a choice or chunk choice.
type Logprobs struct {
	Content []TokenLogprob `json:"content"`
	Refusal []TokenLogprob `json:"refusal,omitempty"`
	Extra   jsonx.Extra    `json:"-"`
}

// TokenLogprob is one token with its log probability and alternatives.
type TokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []TopLogprob `json:"top_logprobs,omitempty"`
	Extra       jsonx.Extra  `json:"-"`
}

// TopLogprob is one alternative token.
type TopLogprob struct {
	Token   string      `json:"token"`
	Logprob float64     `json:"logprob"`
	Bytes   []int       `json:"bytes"`
	Extra   jsonx.Extra `json:"-"`
}

// Usage is token usage. PromptTokens includes cached tokens.
type Usage struct {
	PromptTokens            int64                    `json:"prompt_tokens"`
	CompletionTokens        int64                    `json:"completion_tokens"`
	TotalTokens             int64                    `json:"total_tokens"`
	PromptTokensDetails     *PromptTokensDetails     `json:"prompt_tokens_details,omitempty"`
	CompletionTokensDetails *CompletionTokensDetails `json:"completion_tokens_details,omitempty"`
	Extra                   jsonx.Extra              `json:"-"`
}

// PromptTokensDetails breaks down prompt tokens.
type PromptTokensDetails struct {
	CachedTokens int64       `json:"cached_tokens"`
	AudioTokens  *int64      `json:"audio_tokens,omitempty"`
	Extra        jsonx.Extra `json:"-"`
}

// CompletionTokensDetails breaks down completion tokens.
type CompletionTokensDetails struct {
	ReasoningTokens          int64       `json:"reasoning_tokens"`
	AudioTokens              *int64      `json:"audio_tokens,omitempty"`
	AcceptedPredictionTokens *int64      `json:"accepted_prediction_tokens,omitempty"`
	RejectedPredictionTokens *int64      `json:"rejected_prediction_tokens,omitempty"`
	Extra                    jsonx.Extra `json:"-"`
}

// ChatCompletionChunk is one server-sent event of a streamed response
// (object "chat.completion.chunk"). The last chunk, when usage was asked
// for, has empty Choices and Usage set.
type ChatCompletionChunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	Choices           []ChunkChoice `json:"choices"`
	Usage             *Usage        `json:"usage,omitempty"`
	ServiceTier       string        `json:"service_tier,omitempty"`
	SystemFingerprint string        `json:"system_fingerprint,omitempty"`
	Obfuscation       string        `json:"obfuscation,omitempty"`
	Extra             jsonx.Extra   `json:"-"`
}

// ChunkChoice is one choice of a chunk. FinishReason nil encodes as null.
type ChunkChoice struct {
	Index        int64       `json:"index"`
	Delta        Delta       `json:"delta"`
	FinishReason *string     `json:"finish_reason"`
	Logprobs     *Logprobs   `json:"logprobs,omitempty"`
	Extra        jsonx.Extra `json:"-"`
}

// Delta is the incremental message of a chunk choice. Tool call deltas carry
// Index; ID, Type and Function.Name come only with a call's first delta.
type Delta struct {
	Role      string     `json:"role,omitempty"`
	Content   *string    `json:"content,omitempty"`
	Refusal   *string    `json:"refusal,omitempty"`
	ToolCalls []ToolCall `json:"tool_calls,omitempty"`
	// ReasoningContent is a reasoning text delta; see Message.ReasoningContent.
	ReasoningContent *string       `json:"reasoning_content,omitempty"`
	FunctionCall     *FunctionCall `json:"function_call,omitempty"`
	Extra            jsonx.Extra   `json:"-"`
}

// ErrorResponse is the body of an error response: {"error":{...}}.
type ErrorResponse struct {
	Error ErrorBody   `json:"error"`
	Extra jsonx.Extra `json:"-"`
}

// ErrorBody is the error object.
type ErrorBody struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Param   *string         `json:"param"`
	Code    json.RawMessage `json:"code"` // string, number or null
	Extra   jsonx.Extra     `json:"-"`
}
