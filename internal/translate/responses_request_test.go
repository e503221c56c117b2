package translate

import (
	"encoding/json"
	"fmt"
)

// Tests translate a Responses request straight into each dialect; the
// front end routes ResponsesChatRequest's Chat body instead, which each
// deployment's translator takes from there.

// ResponsesRequest translates a Responses request body into a body for a
// backend speaking dialect backend, as Request does for the other
// dialects: model names the backend's model where the body carries it,
// stream says whether the client asked for a stream. An OpenAI backend
// gets a Chat Completions request. Errors: *DecodeError, *UnsupportedError.
func ResponsesRequest(backend Dialect, body []byte, model string, stream bool, opts Options) ([]byte, error) {
	req, err := decodeResponsesFor(body, model, stream)
	if err != nil {
		return nil, err
	}
	var out any
	switch backend {
	case OpenAI:
		out, err = ResponsesToOpenAIRequest(req)
	case Converse:
		out, err = ResponsesToConverseRequest(req, opts)
	case Anthropic:
		out, err = ResponsesToAnthropicRequest(req, opts)
	default:
		return nil, fmt.Errorf("translate: unknown dialect %v", backend)
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}
