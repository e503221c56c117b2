package jsonx

import (
	"encoding/json"
	"slices"
)

// span is the byte range of one top-level member, key start to value end.
type span struct{ start, end int }

// memberSpans returns the spans of the top-level members named key.
func memberSpans(body []byte, key string) ([]span, error) {
	var spans []span
	err := Members(body, func(k, v []byte) error {
		if KeyIs(k, key) {
			// k and v are subslices of body: their offsets follow from capacity.
			spans = append(spans, span{cap(body) - cap(k), cap(body) - cap(v) + len(v)})
		}
		return nil
	})
	return spans, err
}

// SetMember returns a copy of the JSON object body with the value of member
// key replaced by raw, or raw appended as a new member when key is absent.
// Every other byte is kept as it was. A duplicated key has every occurrence
// replaced, so that no decoder sees the old value.
func SetMember(body []byte, key string, raw []byte) ([]byte, error) {
	if !json.Valid(raw) {
		return nil, ErrSyntax
	}
	spans, err := memberSpans(body, key)
	if err != nil {
		return nil, err
	}
	kb, _ := json.Marshal(key)
	if len(spans) == 0 {
		end := len(body) - 1
		for end > 0 && body[end] != '}' {
			end--
		}
		out := slices.Clone(body[:end])
		i := len(out) - 1
		for i >= 0 && isSpace(out[i]) {
			i--
		}
		if out[i] != '{' {
			out = append(out, ',')
		}
		out = append(out, kb...)
		out = append(out, ':')
		out = append(out, raw...)
		return append(out, body[end:]...), nil
	}
	out := make([]byte, 0, len(body)+len(raw))
	prev := 0
	for _, s := range spans {
		out = append(out, body[prev:s.start]...)
		out = append(out, kb...)
		out = append(out, ':')
		out = append(out, raw...)
		prev = s.end
	}
	return append(out, body[prev:]...), nil
}

// DeleteMember returns a copy of the JSON object body without any member
// named key (and the comma that separated it). Every other byte is kept.
func DeleteMember(body []byte, key string) ([]byte, error) {
	spans, err := memberSpans(body, key)
	if err != nil || len(spans) == 0 {
		return body, err
	}
	out := slices.Clone(body)
	for i := len(spans) - 1; i >= 0; i-- {
		s := spans[i]
		// Take the following comma if there is one, else the preceding one.
		j := skipSpace(out, s.end)
		if j < len(out) && out[j] == ',' {
			s.end = j + 1
		} else {
			k := s.start - 1
			for k >= 0 && isSpace(out[k]) {
				k--
			}
			if k >= 0 && out[k] == ',' {
				s.start = k
			}
		}
		out = append(out[:s.start], out[s.end:]...)
	}
	return out, nil
}
