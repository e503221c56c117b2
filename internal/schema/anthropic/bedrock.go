package anthropic

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// BedrockChunk is the payload of an InvokeModelWithResponseStream "chunk"
// event: one Messages stream event (its JSON, base64 on the wire) in Bytes.
type BedrockChunk struct {
	Bytes []byte      `json:"bytes"`
	Extra jsonx.Extra `json:"-"`
}

// UnmarshalJSON decodes the chunk and keeps undeclared members in Extra.
func (v *BedrockChunk) UnmarshalJSON(b []byte) error {
	type plain BedrockChunk
	return jsonx.UnmarshalObject(b, (*plain)(v), &v.Extra)
}

// MarshalJSON encodes the chunk with the members of Extra.
func (v BedrockChunk) MarshalJSON() ([]byte, error) {
	type plain BedrockChunk
	return jsonx.MarshalObject(plain(v), v.Extra)
}

// WrapBedrockChunk returns the chunk payload carrying the Messages stream
// event JSON ev.
func WrapBedrockChunk(ev []byte) ([]byte, error) {
	return json.Marshal(BedrockChunk{Bytes: ev})
}

// UnwrapBedrockChunk returns the Messages stream event JSON a chunk payload
// carries.
func UnwrapBedrockChunk(payload []byte) ([]byte, error) {
	var c BedrockChunk
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, err
	}
	return c.Bytes, nil
}
