package mockllm

import (
	"encoding/json"
	"strconv"
)

// This file refuses sampling values out of the range the real models take,
// as Bedrock refuses them, so that a test through the simulator catches a
// gateway that would forward them: Converse's inferenceConfig temperature
// and topP are bounded by the API itself (0 to 1, for every model), and
// each family's InvokeModel body by its model's parameters (Anthropic
// Claude, Meta Llama, Mistral, Amazon Titan Text and Nova, Cohere Command
// R: temperature and top-p from 0 to 1, Command R's p from 0.01 to 0.99 and
// k from 0 to 500, Claude's top_k from 0 to 500 as Bedrock documents).

// validationError is a ValidationException message written as it is (a
// jsonError is a malformed body's, after "Malformed input request: ").
type validationError string

func (e validationError) Error() string { return string(e) }

// samplingBound is a sampling member's path in a body and its range.
type samplingBound struct {
	path     []string
	min, max float64
	noMax    bool
}

var (
	converseBounds = []samplingBound{{path: []string{"inferenceConfig", "temperature"}, max: 1}, {path: []string{"inferenceConfig", "topP"}, max: 1}}
	anthropicBound = []samplingBound{{path: []string{"temperature"}, max: 1}, {path: []string{"top_p"}, max: 1}, {path: []string{"top_k"}, max: 500}}
	promptBounds   = []samplingBound{{path: []string{"temperature"}, max: 1}, {path: []string{"top_p"}, max: 1}}
	titanBounds    = []samplingBound{{path: []string{"textGenerationConfig", "temperature"}, max: 1}, {path: []string{"textGenerationConfig", "topP"}, max: 1}}
	novaBounds     = []samplingBound{{path: []string{"inferenceConfig", "temperature"}, max: 1}, {path: []string{"inferenceConfig", "topP"}, max: 1},
		{path: []string{"inferenceConfig", "top_p"}, max: 1}}
	cohereBounds = []samplingBound{{path: []string{"temperature"}, max: 1}, {path: []string{"p"}, min: 0.01, max: 0.99}, {path: []string{"k"}, max: 500}}
)

// checkSampling refuses a sampling value of body (of shape; a Converse
// request when converse) out of its range, in the words Bedrock uses: the
// API's constraint message for Converse, Anthropic's for a Claude body,
// the JSON-schema message of a malformed InvokeModel body for the other
// families.
func checkSampling(shape invokeShape, converse bool, body []byte) error {
	bounds := promptBounds
	switch {
	case converse:
		bounds = converseBounds
	case shape == shapeAnthropic:
		bounds = anthropicBound
	case shape == shapeTitanText:
		bounds = titanBounds
	case shape == shapeNova:
		bounds = novaBounds
	case shape == shapeCohereChat:
		bounds = cohereBounds
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return nil // the decoder has refused it
	}
	for _, b := range bounds {
		v, ok := numberAt(obj, b.path)
		if !ok || (v >= b.min && (b.noMax || v <= b.max)) {
			continue
		}
		name, val := b.path[len(b.path)-1], strconv.FormatFloat(v, 'g', -1, 64)
		switch {
		case converse:
			field, rel, bound := b.path[0]+"."+name, "less than or equal to", b.max
			if v < b.min {
				rel, bound = "greater than or equal to", b.min
			}
			return validationError("1 validation error detected: Value '" + val + "' at '" + field + "' failed to satisfy constraint: Member must have value " +
				rel + " " + strconv.FormatFloat(bound, 'g', -1, 64))
		case shape == shapeAnthropic:
			if b.noMax {
				return validationError(name + ": range: " + strconv.FormatFloat(b.min, 'g', -1, 64) + "..")
			}
			return validationError(name + ": range: " + strconv.FormatFloat(b.min, 'g', -1, 64) + ".." + strconv.FormatFloat(b.max, 'g', -1, 64))
		}
		rel, bound := "less or equal to", b.max
		if v < b.min {
			rel, bound = "greater or equal to", b.min
		}
		ptr := "#"
		for _, k := range b.path {
			ptr += "/" + k
		}
		return jsonError(ptr + ": " + val + " is not " + rel + " " + strconv.FormatFloat(bound, 'g', -1, 64))
	}
	return nil
}

// numberAt returns the number at path in obj, if there is one.
func numberAt(obj map[string]json.RawMessage, path []string) (float64, bool) {
	raw := obj[path[0]]
	for _, k := range path[1:] {
		var inner map[string]json.RawMessage
		if json.Unmarshal(raw, &inner) != nil {
			return 0, false
		}
		raw = inner[k]
	}
	var v float64
	if raw == nil || json.Unmarshal(raw, &v) != nil {
		return 0, false
	}
	return v, true
}
