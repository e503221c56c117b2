package dialect

import (
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestAnswerError: an answer the translator cannot show says why, clipped;
// an error the backend reported says its type only.
func TestAnswerError(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"translator reason", &translate.StreamError{Own: true, Type: "unsupported", Message: "content block delta has no Chat Completions form"},
			"the model failed mid-answer (unsupported: content block delta has no Chat Completions form)"},
		{"protocol reason", &translate.StreamError{Own: true, Type: "protocol", Message: "tool input delta without a tool use start"},
			"the model failed mid-answer (protocol: tool input delta without a tool use start)"},
		{"backend error", &translate.StreamError{Type: "overloaded_error", Message: "account 123 is overloaded"},
			"the model failed mid-answer (overloaded_error)"},
		// A backend may name its error type as the translator does: its
		// message still stays out of the client's answer.
		{"backend error typed unsupported", &translate.StreamError{Type: "unsupported", Message: "internal host 10.0.0.5 account 123"},
			"the model failed mid-answer (unsupported)"},
		{"backend error typed protocol", &translate.StreamError{Type: "protocol", Message: "internal host 10.0.0.5"},
			"the model failed mid-answer (protocol)"},
	}
	for _, tc := range tests {
		if got := AnswerError(tc.err).Message; got != tc.want {
			t.Errorf("%s: AnswerError = %q, want %q", tc.name, got, tc.want)
		}
	}
	got := AnswerError(&translate.StreamError{Own: true, Type: "unsupported", Message: long}).Message
	if len(got) > 300 || !strings.Contains(got, "more bytes]") {
		t.Errorf("AnswerError(long reason) = %q (%d bytes), want it clipped", got, len(got))
	}
}
