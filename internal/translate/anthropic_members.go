package translate

import (
	"encoding/json"
	"reflect"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

// Members of a Messages request that Anthropic defines and the schema
// types leave in Extra, decided here for a translated request (toward
// OpenAI Chat Completions or Converse; a Claude deployment on Bedrock is
// sent the body as the client wrote it). Each is accepted and left out
// where the target already does what it asks, and refused by name with
// the reason otherwise:
//
//   - tools[].eager_input_streaming: streams each tool call's input as the
//     model writes it, without buffering. Chat Completions and
//     ConverseStream streams do that anyway (argument and toolUse input
//     deltas as generated), and the translated stream passes each delta
//     on as it comes: accepted, true or false.
//   - tools[].defer_loading: false (the default) is accepted; true needs
//     Anthropic's tool search, which the target does not have.
//   - tools[].allowed_callers: ["direct"] (the model calls the tool
//     itself, the default) is accepted; a code execution caller needs a
//     container the target does not have.
//   - tools[].input_examples: an empty list is accepted; examples have no
//     place in the target's tool definitions.
//   - inference_geo: "global" (the default: inference may run anywhere)
//     is accepted, since the request is served within its profile's
//     geography whatever it says; any other value is refused, so that it
//     can never be taken for a place the request is kept to (the Messages
//     front end also accepts the value naming the profile's own geography,
//     see internal/api/anthropic).
//   - speed: "standard" (the default) is accepted; fast mode is Claude's.
//   - cache_control (automatic prompt caching): refused; toward Converse,
//     a cache point goes after a block, so cache_control belongs on the
//     last block to cache.
//
// A member that is null counts as absent (dropNulls).

// anthropicMembers decides the members above for req, removing the
// accepted ones from the Extra maps so that refuseUnknown does not see
// them.
func anthropicMembers(r refuser, req *anthropic.Request) error {
	for i := range req.Tools {
		t := &req.Tools[i]
		if !t.IsCustom() || len(t.Extra) == 0 {
			continue
		}
		p := at("tools", i)
		if v, ok := t.Extra["eager_input_streaming"]; ok {
			if !isBool(v) {
				return r.because(p+".eager_input_streaming", "a boolean")
			}
			delete(t.Extra, "eager_input_streaming")
		}
		if v, ok := t.Extra["defer_loading"]; ok {
			if string(v) != "false" {
				return r.because(p+".defer_loading", "deferred tool loading needs Anthropic's tool search, which this API does not have; false is accepted")
			}
			delete(t.Extra, "defer_loading")
		}
		if v, ok := t.Extra["allowed_callers"]; ok {
			var callers []string
			if json.Unmarshal(v, &callers) != nil || len(callers) != 1 || callers[0] != "direct" {
				return r.because(p+".allowed_callers", `only ["direct"]: a code execution caller needs a container this API does not have`)
			}
			delete(t.Extra, "allowed_callers")
		}
		if v, ok := t.Extra["input_examples"]; ok {
			var list []json.RawMessage
			if json.Unmarshal(v, &list) != nil || len(list) > 0 {
				return r.because(p+".input_examples", "tool input examples have no place in this API's tool definitions")
			}
			delete(t.Extra, "input_examples")
		}
	}
	if v, ok := req.Extra["inference_geo"]; ok {
		if string(v) != `"global"` {
			return r.because("inference_geo", inferenceGeoReason)
		}
		delete(req.Extra, "inference_geo")
	}
	if v, ok := req.Extra["speed"]; ok {
		if string(v) != `"standard"` {
			return r.because("speed", "fast mode is an option of Claude on Anthropic's API; standard is accepted")
		}
		delete(req.Extra, "speed")
	}
	if _, ok := req.Extra["cache_control"]; ok {
		if r == targetConverse {
			return r.because("cache_control", "Converse places a cache point after a block: put cache_control on the last block to cache")
		}
		return r.because("cache_control", "OpenAI caches prompts on its own and has no cache markers")
	}
	return nil
}

// inferenceGeoReason says why inference_geo other than global is refused.
const inferenceGeoReason = "Meridian serves a request within its profile's geography: choose a profile of the geography you need, such as a us. one, and send inference_geo global or not at all"

func isBool(v json.RawMessage) bool { return string(v) == "true" || string(v) == "false" }

// dropNulls removes the members whose value is null from every Extra map
// in v, at any depth: a null member counts as absent, as in the APIs, for
// members the schema types do not declare as for those they do (which
// decode null as their zero value).
func dropNulls(v any) { dropNullsIn(reflect.ValueOf(v)) }

func dropNullsIn(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			dropNullsIn(v.Elem())
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := range v.Len() {
			dropNullsIn(v.Index(i))
		}
	case reflect.Map:
		if v.Type() == extraType {
			for k, raw := range v.Interface().(jsonx.Extra) {
				if jsonx.IsNull(raw) {
					v.SetMapIndex(reflect.ValueOf(k), reflect.Value{})
				}
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				dropNullsIn(v.Field(i))
			}
		}
	}
}
