package dialect

import (
	"errors"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestTranslateError: a field the target API cannot express is a 400 that
// names it; an undecodable body is a 400; anything else is internal.
func TestTranslateError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   error
		kind  inference.ErrorKind
		param string
	}{
		{"unsupported field", &translate.UnsupportedError{Field: "logit_bias", Target: "converse", Reason: "no such parameter"}, inference.KindInvalidRequest, "logit_bias"},
		{"malformed body", &translate.DecodeError{Err: errors.New("unexpected end of JSON input")}, inference.KindInvalidRequest, ""},
		{"anything else", errors.New("boom"), inference.KindInternal, ""},
	}
	for _, tc := range tests {
		e := TranslateError(tc.err)
		if e.Kind != tc.kind || e.Param != tc.param {
			t.Errorf("%s: TranslateError = %v (param %q), want kind %v param %q", tc.name, e, e.Param, tc.kind, tc.param)
		}
	}
}

// TestWireDialect: every dialect the translators know maps, and a body of
// another model family does not.
func TestWireDialect(t *testing.T) {
	t.Parallel()
	for d, want := range map[inference.Dialect]translate.Dialect{
		inference.DialectOpenAIChat: translate.OpenAI, inference.DialectConverse: translate.Converse, inference.DialectAnthropic: translate.Anthropic,
	} {
		if got, ok := WireDialect(d); !ok || got != want {
			t.Errorf("WireDialect(%v) = %v, %v; want %v", d, got, ok, want)
		}
	}
	if _, ok := WireDialect(inference.DialectInvoke); ok {
		t.Error("WireDialect(another family's InvokeModel body) = ok, want no translation")
	}
}

// TestRequestMetadataToConverse: OpenAI metadata within OpenAI's limits but
// outside Bedrock's is refused by name when the request is translated to
// Converse, and carried as requestMetadata when within them.
func TestRequestMetadataToConverse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, md string
		refused  bool
	}{
		{"within Bedrock's limits", `{"team":"claims"}`, false},
		{"a character Bedrock refuses", `{"note":"hello!"}`, true},
		{"a value longer than Bedrock's 256", `{"k":"` + strings.Repeat("v", 300) + `"}`, true},
	} {
		body := []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"hi"}],"metadata":` + tc.md + `}`)
		req, err := inference.Peek(inference.DialectOpenAIChat, "", body, false)
		if err != nil {
			t.Fatalf("%s: peek: %v", tc.name, err)
		}
		out, err := Request(req, translate.Converse, "m", false, translate.Options{})
		if tc.refused {
			var e *inference.Error
			if !errors.As(err, &e) || e.Kind != inference.KindInvalidRequest || e.Param != "metadata" {
				t.Errorf("%s: %v, want a 400 naming metadata", tc.name, err)
			}
			continue
		}
		if err != nil || !strings.Contains(string(out), `"requestMetadata":{"team":"claims"}`) {
			t.Errorf("%s: %s, %v; want requestMetadata carried", tc.name, out, err)
		}
	}
}
