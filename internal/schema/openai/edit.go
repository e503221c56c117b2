package openai

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// SetModel returns a copy of the request body with model set to model and
// every other byte unchanged, for pass-through to a backend that names the
// model differently.
func SetModel(body []byte, model string) ([]byte, error) {
	raw, _ := json.Marshal(model)
	return jsonx.SetMember(body, "model", raw)
}
