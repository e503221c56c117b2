package translate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// runStream feeds events ("type\tdata") to a new stream translator and
// returns what it wrote and the first error.
func runStream(t *testing.T, backend, client translate.Dialect, events ...string) (string, error) {
	t.Helper()
	s, err := translate.NewStream(backend, client, translate.ResponseMeta{ID: "id-1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, e := range events {
		typ, data, _ := strings.Cut(e, "\t")
		evs, err := s.Next(translate.Event{Type: typ, Data: []byte(data)})
		for _, ev := range evs {
			out.Write(ev.Data)
			out.WriteByte('\n')
		}
		if err != nil {
			return out.String(), err
		}
	}
	return out.String(), nil
}

// TestBackendErrorIsNotTheTranslators: an error event a backend sends
// stays the backend's, whatever type it names; only the translator's own
// failures are marked as such (their message is then fit for the client).
func TestBackendErrorIsNotTheTranslators(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		backend, client translate.Dialect
		events          []string
	}{
		{"OpenAI error chunk to Anthropic", translate.OpenAI, translate.Anthropic,
			[]string{"\t" + `{"error":{"type":"unsupported","message":"internal host 10.0.0.5 account 123"}}`}},
		{"OpenAI error chunk to Converse", translate.OpenAI, translate.Converse,
			[]string{"\t" + `{"error":{"type":"protocol","message":"internal host 10.0.0.5 account 123"}}`}},
		{"Anthropic error event to OpenAI", translate.Anthropic, translate.OpenAI,
			[]string{"error\t" + `{"type":"error","error":{"type":"unsupported","message":"internal host 10.0.0.5"}}`}},
		{"Anthropic error event to Converse", translate.Anthropic, translate.Converse,
			[]string{"error\t" + `{"type":"error","error":{"type":"protocol","message":"internal host 10.0.0.5"}}`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := runStream(t, tc.backend, tc.client, tc.events...)
			var se *translate.StreamError
			if !errors.As(err, &se) {
				t.Fatalf("Next = %v; want a *StreamError", err)
			}
			if se.Translator() {
				t.Errorf("Translator() = true for the backend's error %+v; its message would reach the client", se)
			}
		})
	}
	_, err := runStream(t, translate.Converse, translate.OpenAI, "messageStart\t{\"role\":\"assistant\"}",
		"contentBlockStart\t{\"contentBlockIndex\":0,\"start\":{\"image\":{\"format\":\"png\"}}}")
	var se *translate.StreamError
	if !errors.As(err, &se) || !se.Translator() {
		t.Errorf("a part without a form: %v; want the translator's own *StreamError", err)
	}
}
