package anthropic

import (
	"strings"
	"testing"
)

// TestPathHint: the two base-URL mistakes of Anthropic clients get a hint
// that names the fix; other paths get none.
func TestPathHint(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{"/v1/v1/messages", "drop the /v1"},
		{"/v1/v1/messages/count_tokens", "drop the /v1"},
		{"/messages", "end the client's base URL with /v1"},
		{"/messages/count_tokens", "end the client's base URL with /v1"},
		{"/v1/messages/batches", ""},
		{"/messagesx", ""},
		{"/v1/models/x", ""},
	} {
		got := PathHint(tc.path)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("PathHint(%q) = %q, want one containing %q", tc.path, got, tc.want)
		}
	}
}
