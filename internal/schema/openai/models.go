package openai

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// ModelList is the body of GET /v1/models.
type ModelList struct {
	Object string      `json:"object"` // "list"
	Data   []Model     `json:"data"`
	Extra  jsonx.Extra `json:"-"`
}

// Model is one entry of a ModelList (object "model").
type Model struct {
	ID      string      `json:"id"`
	Object  string      `json:"object"`
	Created int64       `json:"created"`
	OwnedBy string      `json:"owned_by"`
	Extra   jsonx.Extra `json:"-"`
}

// NewErrorResponse returns an error body. An empty param or code encodes
// as null, as the API does.
func NewErrorResponse(message, typ, param, code string) ErrorResponse {
	e := ErrorResponse{Error: ErrorBody{Message: message, Type: typ, Code: json.RawMessage("null")}}
	if param != "" {
		e.Error.Param = &param
	}
	if code != "" {
		e.Error.Code, _ = json.Marshal(code)
	}
	return e
}

// StreamDone is the data of the server-sent event that ends a stream.
const StreamDone = "[DONE]"
