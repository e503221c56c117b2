package bedrock

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// converseRequest is Bedrock's ConverseRequest body (bedrock-api.md §1).
// Members Meridian cannot honour are rejected, not ignored.
type converseRequest struct {
	Messages        []converseMessage `json:"messages"`
	System          []contentBlock    `json:"system"`
	InferenceConfig *struct {
		MaxTokens     *int     `json:"maxTokens"`
		Temperature   *float64 `json:"temperature"`
		TopP          *float64 `json:"topP"`
		StopSequences []string `json:"stopSequences"`
	} `json:"inferenceConfig"`
	ToolConfig      json.RawMessage `json:"toolConfig"`
	GuardrailConfig json.RawMessage `json:"guardrailConfig"`
	PromptVariables json.RawMessage `json:"promptVariables"`
	// AdditionalModelRequestFields and OutputConfig change what the model
	// does; they are refused. PerformanceConfig, ServiceTier and
	// AdditionalModelResponseFieldPaths are hints, accepted and not acted
	// on. RequestMetadata is validated as Bedrock does and recorded in the
	// audit trail.
	AdditionalModelRequestFields json.RawMessage   `json:"additionalModelRequestFields"`
	OutputConfig                 json.RawMessage   `json:"outputConfig"`
	RequestMetadata              map[string]string `json:"requestMetadata"`
}

type converseMessage struct {
	Role    string         `json:"role"`
	Content []contentBlock `json:"content"`
}

// contentBlock is the ContentBlock union: exactly one member is set.
type contentBlock map[string]json.RawMessage

// text returns the block's text. A cachePoint block is a caching hint with
// no content and yields ok=false with no error.
func (b contentBlock) text(field string) (string, bool, error) {
	if len(b) != 1 {
		return "", false, invalid(field + " must have exactly one member (a union)")
	}
	for k, v := range b {
		switch k {
		case "text":
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return "", false, invalid(field + ".text must be a string")
			}
			return s, true, nil
		case "cachePoint":
			return "", false, nil
		default:
			return "", false, invalid(fmt.Sprintf("%s: content block %q is not supported by this gateway; only text is", field, auth.Truncate(k, maxQuoted)))
		}
	}
	return "", false, nil
}

func isSet(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// decodeConverse validates a Converse body and translates it.
func decodeConverse(model string, body []byte, stream bool) (*inference.Request, error) {
	req := &inference.Request{Model: model, Stream: stream}
	var cr converseRequest
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, &cr); err != nil {
		return req, invalid("request body is not valid JSON: " + auth.Truncate(err.Error(), maxQuoted))
	}
	switch {
	case len(cr.Messages) == 0:
		return req, invalid("messages must be a non-empty list")
	case isSet(cr.ToolConfig):
		return req, invalid("toolConfig is not supported by this gateway yet")
	case isSet(cr.GuardrailConfig):
		return req, invalid("guardrailConfig is not supported by this gateway")
	case isSet(cr.PromptVariables):
		return req, invalid("promptVariables is not supported by this gateway")
	case isSet(cr.AdditionalModelRequestFields) && string(bytes.TrimSpace(cr.AdditionalModelRequestFields)) != "{}":
		return req, invalid("additionalModelRequestFields is not supported by this gateway; use inferenceConfig")
	case isSet(cr.OutputConfig):
		return req, invalid("outputConfig is not supported by this gateway")
	}
	if err := inference.ValidateMetadata(cr.RequestMetadata); err != nil {
		return req, invalid("requestMetadata " + err.Error())
	}
	if len(cr.RequestMetadata) > 0 {
		// Recorded in the audit trail (requestMetadata), as Bedrock's
		// invocation logs record it.
		req.Metadata = cr.RequestMetadata
	}
	if ic := cr.InferenceConfig; ic != nil {
		if ic.MaxTokens != nil {
			if *ic.MaxTokens < 1 {
				return req, invalid("inferenceConfig.maxTokens must be at least 1")
			}
			req.MaxTokens = *ic.MaxTokens
		}
		if t := ic.Temperature; t != nil && (*t < 0 || *t > 1) {
			return req, invalid("inferenceConfig.temperature must be between 0 and 1")
		}
		if p := ic.TopP; p != nil && (*p < 0 || *p > 1) {
			return req, invalid("inferenceConfig.topP must be between 0 and 1")
		}
		if len(ic.StopSequences) > 2500 {
			return req, invalid("inferenceConfig.stopSequences has more than 2500 entries")
		}
		req.Temperature, req.TopP, req.Stop = ic.Temperature, ic.TopP, ic.StopSequences
	}
	for i, b := range cr.System {
		text, ok, err := b.text("system[" + strconv.Itoa(i) + "]")
		if err != nil {
			return req, err
		}
		if ok {
			req.Messages = append(req.Messages, inference.TextMessage(inference.RoleSystem, text))
		}
	}
	for i, m := range cr.Messages {
		field := "messages[" + strconv.Itoa(i) + "]"
		role, err := messageRole(m.Role, field)
		if err != nil {
			return req, err
		}
		msg := inference.Message{Role: role}
		for j, b := range m.Content {
			text, ok, err := b.text(field + ".content[" + strconv.Itoa(j) + "]")
			if err != nil {
				return req, err
			}
			if ok {
				msg.Content = append(msg.Content, inference.Block{Text: text})
			}
		}
		if len(msg.Content) == 0 {
			return req, invalid(field + ".content must hold at least one text block")
		}
		req.Messages = append(req.Messages, msg)
	}
	return req, nil
}

type textBlock struct {
	Text string `json:"text"`
}

type outMessage struct {
	Role    string      `json:"role"`
	Content []textBlock `json:"content"`
}

type tokenUsage struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
	TotalTokens  int `json:"totalTokens"`
}

type metrics struct {
	LatencyMs int64 `json:"latencyMs"`
}

// converseResponse is Bedrock's ConverseResponse.
type converseResponse struct {
	Output struct {
		Message outMessage `json:"message"`
	} `json:"output"`
	StopReason string     `json:"stopReason"`
	Usage      tokenUsage `json:"usage"`
	Metrics    metrics    `json:"metrics"`
}

func usageOf(u inference.Usage) tokenUsage {
	return tokenUsage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, TotalTokens: u.Total()}
}

func stopReason(s inference.StopReason) string {
	if s == "" {
		return string(inference.StopEndTurn)
	}
	return string(s)
}

func converseBody(resp *inference.Response, latencyMs int64) converseResponse {
	var out converseResponse
	out.Output.Message = outMessage{Role: "assistant", Content: []textBlock{{Text: resp.Message.Text()}}}
	out.StopReason = stopReason(resp.StopReason)
	out.Usage = usageOf(resp.Usage)
	out.Metrics.LatencyMs = latencyMs
	return out
}

// ConverseStream event payloads (bedrock-api.md §2).
type (
	messageStartEvent struct {
		Role string `json:"role"`
	}
	contentBlockDeltaEvent struct {
		ContentBlockIndex int       `json:"contentBlockIndex"`
		Delta             textBlock `json:"delta"`
	}
	contentBlockStopEvent struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
	}
	messageStopEvent struct {
		StopReason string `json:"stopReason"`
	}
	metadataEvent struct {
		Usage   tokenUsage `json:"usage"`
		Metrics metrics    `json:"metrics"`
	}
)

// messageRole maps a Bedrock message role (Converse and the Anthropic
// Messages body use the same two) to the canonical one.
func messageRole(role, field string) (inference.Role, error) {
	switch role {
	case "user":
		return inference.RoleUser, nil
	case "assistant":
		return inference.RoleAssistant, nil
	}
	return "", invalid(field + ".role must be user or assistant")
}
