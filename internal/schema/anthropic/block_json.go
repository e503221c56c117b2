package anthropic

import "github.com/meridian-gateway/meridian/internal/schema/jsonx"

// UnmarshalJSON decodes the block and keeps undeclared members in Extra.
func (v *Block) UnmarshalJSON(b []byte) error {
	type plain Block
	return jsonx.UnmarshalObject(b, (*plain)(v), &v.Extra)
}

// MarshalJSON encodes the block with the members of Extra, and the members
// its type requires even when empty (text, thinking, signature).
func (v Block) MarshalJSON() ([]byte, error) {
	type plain Block
	b, err := jsonx.MarshalObject(plain(v), v.Extra)
	if err != nil {
		return nil, err
	}
	switch v.Type {
	case BlockText:
		b = jsonx.Ensure(b, "text", `""`)
	case BlockThinking:
		b = jsonx.Ensure(b, "thinking", `""`)
		b = jsonx.Ensure(b, "signature", `""`)
	case BlockToolUse, BlockServerToolUse:
		b = jsonx.Ensure(b, "input", `{}`)
	}
	return b, nil
}

// UnmarshalJSON decodes the delta and keeps undeclared members in Extra.
func (v *EventDelta) UnmarshalJSON(b []byte) error {
	type plain EventDelta
	return jsonx.UnmarshalObject(b, (*plain)(v), &v.Extra)
}

// MarshalJSON encodes the delta with the members of Extra, and the members
// its type requires even when empty.
func (v EventDelta) MarshalJSON() ([]byte, error) {
	type plain EventDelta
	b, err := jsonx.MarshalObject(plain(v), v.Extra)
	if err != nil {
		return nil, err
	}
	switch v.Type {
	case DeltaText:
		b = jsonx.Ensure(b, "text", `""`)
	case DeltaInputJSON:
		b = jsonx.Ensure(b, "partial_json", `""`)
	case DeltaThinking:
		b = jsonx.Ensure(b, "thinking", `""`)
	case DeltaSignature:
		b = jsonx.Ensure(b, "signature", `""`)
	}
	return b, nil
}
