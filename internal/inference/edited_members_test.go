package inference

import (
	"strings"
	"testing"
)

// TestPeekRefusesAmbiguousEditedMembers: a Chat body that names the model
// or stream_options twice, escaped or in another case, is refused naming
// the member: Meridian replaces the member written as named before the
// body goes upstream, while encoding/json (and so the routing) reads the
// last one matching in any case, so the body would be routed on one value
// and send another. Bodies the fast scanner hands to encoding/json for
// other reasons still pass.
func TestPeekRefusesAmbiguousEditedMembers(t *testing.T) {
	t.Parallel()
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	for _, tc := range []struct {
		name, body, param string
	}{
		{"model twice", `{"model":"eu.m","model":"eu.x",` + msgs + `}`, "model"},
		{"model in another case", `{"Model":"eu.m",` + msgs + `}`, "model"},
		{"model escaped", `{"mod\u0065l":"eu.m",` + msgs + `}`, "model"},
		{"stream_options twice", `{"model":"eu.m","stream":true,"stream_options":{"include_usage":true},"stream_options":{"include_usage":false},` + msgs + `}`, "stream_options"},
		{"stream_options escaped", `{"model":"eu.m","stream":true,"stream_\u006fptions":{"include_usage":false},` + msgs + `}`, "stream_options"},
		{"plain, through encoding/json", `{"model":"eu.m","messages":[{"role":"user","content":"h\u00e9"}],"Temperature":0.5}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Peek(DialectOpenAIChat, "", []byte(tc.body), false)
			if tc.param == "" {
				if err != nil {
					t.Fatalf("Peek = %v, want it read", err)
				}
				return
			}
			e := AsError(err)
			if e == nil || e.Kind != KindInvalidRequest || e.Param != tc.param || !strings.Contains(e.Message, tc.param) {
				t.Fatalf("Peek = %#v, want a 400 naming %s", err, tc.param)
			}
		})
	}
}
