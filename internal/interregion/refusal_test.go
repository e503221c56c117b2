package interregion

import (
	"errors"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestTranslationRefusalCrossesAsUnfit: a destination's translation
// refusal (its deployment cannot express a field; inference.Error.Refused)
// reaches the source still Refused, streamed or not, so the source tries
// its next destination; a plain 400 stays plain, and Unfit on any other
// kind does not cross (it is the link's own word about a peer).
func TestTranslationRefusalCrossesAsUnfit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  *inference.Error
		want bool
	}{
		{"refusal", &inference.Error{Kind: inference.KindInvalidRequest, Unfit: true, Code: "unsupported_field", Param: "top_k", Message: "top_k: not supported"}, true},
		{"plain 400", &inference.Error{Kind: inference.KindInvalidRequest, Param: "max_tokens", Message: "max_tokens must be at least 1"}, false},
		{"unfit 503", &inference.Error{Kind: inference.KindUnavailable, Unfit: true, Message: "older peer"}, false},
	} {
		for stream, err := range forwardRefused(t, tc.err) {
			var ie *inference.Error
			if !errors.As(err, &ie) || ie.Kind != tc.err.Kind || ie.Refused() != tc.want || ie.Unfit != tc.want || ie.Param != tc.err.Param {
				t.Errorf("%s, stream=%v: err = %v (%+v), want kind %v, Refused %v, param %q", tc.name, stream, err, ie, tc.err.Kind, tc.want, tc.err.Param)
			}
		}
	}
}
