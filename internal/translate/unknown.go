package translate

import (
	"reflect"
	"strings"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
)

var extraType = reflect.TypeFor[jsonx.Extra]()

// firstUnknown returns the JSON path of the first member, at any depth of
// v, that its schema type does not declare (held in an Extra field), or "".
// Fields without a json tag (the string-or-array unions) share their
// parent's path.
func firstUnknown(v any) string {
	return unknownIn(reflect.ValueOf(v), "")
}

func unknownIn(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		return unknownIn(v.Elem(), path)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "" // []byte and json.RawMessage are values, not schema
		}
		for i := range v.Len() {
			if p := unknownIn(v.Index(i), at(path, i)); p != "" {
				return p
			}
		}
	case reflect.Map:
		if v.Type() == extraType {
			if v.Len() == 0 {
				return ""
			}
			keys := v.Interface().(jsonx.Extra).Keys()
			return join(path, keys[0])
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag, hasTag := f.Tag.Lookup("json")
			name, _, _ := strings.Cut(tag, ",")
			switch {
			case f.Type == extraType:
				name = ""
			case name == "-":
				continue
			case !hasTag:
				name = ""
			}
			if p := unknownIn(v.Field(i), join(path, name)); p != "" {
				return p
			}
		}
	}
	return ""
}

func join(path, name string) string {
	switch {
	case name == "":
		return path
	case path == "":
		return name
	}
	return path + "." + name
}

// refuseUnknown refuses the first undeclared member anywhere in req.
func refuseUnknown(r refuser, req any) error {
	if p := firstUnknown(req); p != "" {
		return r.because(p, "unknown member")
	}
	return nil
}

// knownBlockTypes are the Messages content block types the translators
// understand; other types carry members of their own (in Extra).
var knownBlockTypes = map[string]bool{
	anthropic.BlockText: true, anthropic.BlockImage: true, anthropic.BlockDocument: true,
	anthropic.BlockToolUse: true, anthropic.BlockToolResult: true,
	anthropic.BlockThinking: true, anthropic.BlockRedactedThinking: true,
}

// refuseAnthropicKinds refuses server tools and block types the target
// cannot express by their type, before unknown members inside them would
// be reported.
func refuseAnthropicKinds(r refuser, req *anthropic.Request) error {
	for i, t := range req.Tools {
		if !t.IsCustom() {
			return r.because(at("tools", i)+".type", "server tools run only on Anthropic's API")
		}
	}
	if req.System != nil && req.System.Raw != nil {
		return r.field("system")
	}
	for i, m := range req.Messages {
		p := at("messages", i) + ".content"
		if m.Content.Raw != nil {
			return r.field(p)
		}
		for j, b := range m.Content.Blocks {
			if !knownBlockTypes[b.Type] {
				return r.field(at(p, j) + ".type")
			}
			if b.Content != nil && b.Content.Raw != nil {
				return r.field(at(p, j) + ".content")
			}
			if b.Source.IsName() {
				return r.field(at(p, j) + ".source")
			}
		}
	}
	return nil
}
