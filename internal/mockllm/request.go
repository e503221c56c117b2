package mockllm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// chatRequest is the part of OpenAI's chat completion request that the
// simulator uses. Unknown fields are ignored.
type chatRequest struct {
	Model               string         `json:"model"`
	Messages            []chatMessage  `json:"messages"`
	MaxTokens           *int           `json:"max_tokens"`
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	N                   *int           `json:"n"`
	Stream              bool           `json:"stream"`
	StreamOptions       *streamOptions `json:"stream_options"`
	Stop                stopList       `json:"stop"`
	Seed                *int64         `json:"seed"`
	// The fields of rich answers (see features.go).
	Tools             []toolDef       `json:"tools"`
	ToolChoice        json.RawMessage `json:"tool_choice"`
	ParallelToolCalls *bool           `json:"parallel_tool_calls"`
	ResponseFormat    *responseFormat `json:"response_format"`
	Logprobs          bool            `json:"logprobs"`
	TopLogprobs       *int            `json:"top_logprobs"`
	ReasoningEffort   string          `json:"reasoning_effort"`
	// ServiceTier is checked against the model's tiers (bedrock_tier.go).
	ServiceTier string `json:"service_tier"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type chatMessage struct {
	Role    string      `json:"role"`
	Content textContent `json:"content"`
}

// maxTokens returns the completion bound the caller asked for, preferring
// max_completion_tokens as OpenAI does; zero when none.
func (r *chatRequest) maxTokens() int {
	switch {
	case r.MaxCompletionTokens != nil:
		return *r.MaxCompletionTokens
	case r.MaxTokens != nil:
		return *r.MaxTokens
	}
	return 0
}

// includeUsage reports whether a streamed answer ends with a usage chunk.
func (r *chatRequest) includeUsage() bool {
	return r.StreamOptions != nil && r.StreamOptions.IncludeUsage
}

// textContent is a message's content: a string, or an array of parts of which
// only the text parts are kept. null (an assistant turn with tool calls) is
// empty.
type textContent struct{ parts []string }

func (c *textContent) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 || bytes.Equal(data, []byte("null")):
		return nil
	case data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return err
		}
		c.parts = []string{s}
		return nil
	case data[0] == '[':
		var parts []struct {
			Type string  `json:"type"`
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(data, &parts); err != nil {
			return err
		}
		for _, p := range parts {
			if p.Type == "text" && p.Text != nil {
				c.parts = append(c.parts, *p.Text)
			}
		}
		return nil
	}
	return &paramError{param: "content", message: "Invalid type for 'content': expected one of a string or an array of objects, but got " + jsonKind(data) + " instead."}
}

// stopList is OpenAI's stop parameter: a string, an array of strings or null.
type stopList []string

func (s *stopList) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 || bytes.Equal(data, []byte("null")):
		return nil
	case data[0] == '"':
		var one string
		if err := json.Unmarshal(data, &one); err != nil {
			return err
		}
		*s = stopList{one}
		return nil
	case data[0] == '[':
		var many []string
		if err := json.Unmarshal(data, &many); err != nil {
			return err
		}
		*s = many
		return nil
	}
	return &paramError{param: "stop", message: "Invalid type for 'stop': expected one of a string or an array of strings, but got " + jsonKind(data) + " instead."}
}

// paramError is a type error found by a custom decoder.
type paramError struct{ param, message string }

func (e *paramError) Error() string { return e.message }

func jsonKind(data []byte) string {
	switch data[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// validRoles are the roles OpenAI accepts, in the order its errors list them.
var validRoles = map[string]bool{"system": true, "assistant": true, "user": true, "function": true, "tool": true, "developer": true}

// decodeChatRequest parses and validates body as OpenAI does, returning an
// OpenAI-shaped 400 for anything it would reject.
func decodeChatRequest(body []byte, req *chatRequest) *apiError {
	if err := json.Unmarshal(body, req); err != nil {
		var pe *paramError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &pe):
			return invalidRequest(pe.param, "invalid_type", pe.message)
		case errors.As(err, &te):
			return invalidRequest(te.Field, "invalid_type",
				fmt.Sprintf("Invalid type for '%s': expected %s, but got %s instead.", te.Field, goTypeKind(te.Type.Kind().String()), jsonTypeName(te.Value)))
		}
		return invalidRequest("", "", "We could not parse the JSON body of your request. "+
			"(HINT: This likely means you aren't using your HTTP library correctly. "+
			"The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)")
	}
	if req.Model == "" {
		return invalidRequest("", "", "you must provide a model parameter")
	}
	if req.Messages == nil {
		return invalidRequest("messages", "missing_required_parameter", "Missing required parameter: 'messages'.")
	}
	if len(req.Messages) == 0 {
		return invalidRequest("messages", "empty_array",
			"Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	}
	for i := range req.Messages {
		role := req.Messages[i].Role
		param := fmt.Sprintf("messages[%d].role", i)
		switch {
		case role == "":
			return invalidRequest(param, "missing_required_parameter", fmt.Sprintf("Missing required parameter: '%s'.", param))
		case !validRoles[role]:
			return invalidRequest(param, "invalid_value", fmt.Sprintf(
				"Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.", role))
		}
	}
	for _, p := range []struct {
		name string
		v    *int
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if p.v != nil && *p.v < 1 {
			return invalidRequest(p.name, "integer_below_min_value", fmt.Sprintf(
				"Invalid '%s': integer below minimum value. Expected a value >= 1, but got %d instead.", p.name, *p.v))
		}
	}
	if req.N != nil && (*req.N < 1 || *req.N > 8) {
		return invalidRequest("n", "unsupported_value", fmt.Sprintf("Unsupported value: 'n' must be between 1 and 8 for this simulated model, but got %d.", *req.N))
	}
	if t := req.TopLogprobs; t != nil && *t < 0 {
		return invalidRequest("top_logprobs", "integer_below_min_value", fmt.Sprintf(
			"Invalid 'top_logprobs': integer below minimum value. Expected a value >= 0, but got %d instead.", *t))
	}
	if t := req.TopLogprobs; t != nil && *t > maxTopLogprobs {
		return invalidRequest("top_logprobs", "integer_above_max_value", fmt.Sprintf(
			"Invalid 'top_logprobs': integer above maximum value. Expected a value <= %d, but got %d instead.", maxTopLogprobs, *t))
	}
	if len(req.Stop) > 4 {
		return invalidRequest("stop", "array_above_max_length", fmt.Sprintf(
			"Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length %d instead.", len(req.Stop)))
	}
	if req.StreamOptions != nil && !req.Stream {
		return invalidRequest("stream_options", "invalid_value", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
	}
	return nil
}

func goTypeKind(kind string) string {
	switch kind {
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "ptr":
		return "a value"
	}
	return "a number"
}

func jsonTypeName(v string) string {
	switch v {
	case "array":
		return "an array"
	case "object":
		return "an object"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	}
	return "a " + v
}

// invalidRequest returns OpenAI's 400 invalid_request_error.
func invalidRequest(param, code, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: "invalid_request_error", message: message, param: param, code: code}
}
