package translate_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/translate"
)

// carriedValue is a carried reasoning value that decodes:
// [{"t":"x","s":"y"}].
const carriedValue = "meridian.r1.W3sidCI6IngiLCJzIjoieSJ9XQ"

// TestStripCarriedReasoning: what an OpenAI deployment's pass-through body
// loses (Chat Completions takes no reasoning input), read as the
// translators read it: a prefix or a key written with JSON escapes is the
// same member and value to them, so it is removed too, not passed raw; a
// carried value that does not decode is refused by name, as the
// translations to Converse and Anthropic refuse it, not removed in
// silence; a message naming the member twice or in another case is
// refused rather than edited in one copy.
func TestStripCarriedReasoning(t *testing.T) {
	t.Parallel()
	msg := func(members string) string {
		return `{"model":"m","reasoning_effort":"low","messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a",` + members + `}]}`
	}
	stripped := `{"model":"m","reasoning_effort":"low","messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a"}]}`
	tests := []struct {
		name, in string
		want     string // "" when the body stays as it is
		refuse   bool
	}{
		{"carried", msg(`"reasoning_content":"` + carriedValue + `"`), stripped, false},
		{"escaped prefix", msg(`"reasoning_content":"meridian\u002er1.` + strings.TrimPrefix(carriedValue, "meridian.r1.") + `"`), stripped, false},
		{"escaped first letter", msg(`"reasoning_content":"\u006deridian.r1.` + strings.TrimPrefix(carriedValue, "meridian.r1.") + `"`), stripped, false},
		{"escaped key", msg(`"reasoning\u005fcontent":"` + carriedValue + `"`), stripped, false},
		{"a client's own text", msg(`"reasoning_content":"I think."`), "", false},
		{"a client's own text, escaped", msg(`"reasoning_content":"I \u0074hink."`), "", false},
		{"not base64url", msg(`"reasoning_content":"meridian.r1.!!"`), "", true},
		{"escaped, not base64url", msg(`"reasoning_content":"meridian\u002er1.!!"`), "", true},
		{"no blocks", msg(`"reasoning_content":"meridian.r1.W10"`), "", true},
		{"twice", msg(`"reasoning_content":"` + carriedValue + `","reasoning_content":"` + carriedValue + `"`), "", true},
		{"another case", msg(`"Reasoning_Content":"` + carriedValue + `"`), "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := translate.StripCarriedReasoning([]byte(tc.in))
			if tc.refuse {
				var ie *translate.InvalidError
				if !errors.As(err, &ie) || ie.Field != "messages[1].reasoning_content" {
					t.Fatalf("StripCarriedReasoning = %s, %v; want an InvalidError naming messages[1].reasoning_content", out, err)
				}
				if !translate.CarriesReasoning([]byte(tc.in)) {
					t.Error("CarriesReasoning = false for a body with a carried value")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if string(out) != want {
				t.Errorf("got  %s\nwant %s", out, want)
			}
			if got := translate.CarriesReasoning([]byte(tc.in)); got != (want != tc.in) {
				t.Errorf("CarriesReasoning = %v", got)
			}
		})
	}
}

// FuzzStripCarriedReasoning: for any body, what StripCarriedReasoning
// leaves carries nothing a translator would read as carried reasoning
// (CarriesReasoning, and the typed decode's assistant messages), and is
// JSON whenever the input was; a body it refuses does carry some.
func FuzzStripCarriedReasoning(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"role":"assistant","reasoning_content":"` + carriedValue + `"}]}`,
		`{"messages":[{"role":"assistant","reasoning\u005fcontent":"meridian\u002er1.W3sidCI6IngiLCJzIjoieSJ9XQ"}]}`,
		`{"messages":[{"role":"assistant","reasoning_content":"meridian.r1.!!"}]}`,
		`{"messages":[{"role":"assistant","REASONING_CONTENT":"meridian.r1.x","reasoning_content":"y"}]}`,
		`{"messages":[{"role":"user","content":"\u006deridian.r1."}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := translate.StripCarriedReasoning(body)
		if err != nil {
			if !translate.CarriesReasoning(body) {
				t.Fatalf("refused %s (%v), which CarriesReasoning says carries nothing", body, err)
			}
			return
		}
		if json.Valid(body) && !json.Valid(out) {
			t.Fatalf("stripped %s into invalid JSON %s", body, out)
		}
		if !bytes.Equal(out, body) && translate.CarriesReasoning(out) {
			t.Fatalf("%s still carries reasoning after stripping: %s", body, out)
		}
		var req struct {
			Messages []struct {
				ReasoningContent *string `json:"reasoning_content"`
			} `json:"messages"`
		}
		if json.Unmarshal(out, &req) != nil {
			return
		}
		for i, m := range req.Messages {
			if m.ReasoningContent != nil && strings.HasPrefix(*m.ReasoningContent, "meridian.r1.") {
				t.Fatalf("message %d of %s keeps carried reasoning a decoder reads: %s", i, body, out)
			}
		}
	})
}

// carriedVerdict is what a deployment of each kind answers a Chat body
// that enables reasoning: "" when it serves it, else the field its 400
// names. The OpenAI one is StripCarriedReasoning (its pass-through), the
// others the translations.
func carriedVerdict(t *testing.T, body []byte) (openAI, converse, anthropic string) {
	t.Helper()
	field := func(err error) string {
		if err == nil {
			return ""
		}
		var ie *translate.InvalidError
		if errors.As(err, &ie) {
			return ie.Field
		}
		return "(" + err.Error() + ")"
	}
	_, err := translate.StripCarriedReasoning(body)
	openAI = field(err)
	_, err = translate.Request(translate.OpenAI, translate.Converse, body, "m", false, translate.Options{})
	converse = field(err)
	_, err = translate.Request(translate.OpenAI, translate.Anthropic, body, "m", false, translate.Options{})
	anthropic = field(err)
	return openAI, converse, anthropic
}

// TestCarriedSameAnswer: a Chat body that enables reasoning gets the same
// answer about the reasoning it carries whichever deployment serves it: a
// carried reasoning_content named twice (the typed decode the translators
// read takes the last copy, which may be plain text or another carried
// value) or in another case is refused by name by all three, not served
// by the translating ones.
func TestCarriedSameAnswer(t *testing.T) {
	t.Parallel()
	msg := func(members string) string {
		return `{"model":"m","reasoning_effort":"low","messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a",` + members + `},{"role":"user","content":"v"}]}`
	}
	const at = "messages[1].reasoning_content"
	tests := []struct {
		name, in string
		want     string // the field all three name; "" when all serve
	}{
		{"carried once", msg(`"reasoning_content":"` + carriedValue + `"`), ""},
		{"own text", msg(`"reasoning_content":"I think."`), ""},
		{"own text twice", msg(`"reasoning_content":"I think.","reasoning_content":"No."`), ""},
		{"twice, same", msg(`"reasoning_content":"` + carriedValue + `","reasoning_content":"` + carriedValue + `"`), at},
		{"twice, last plain", msg(`"reasoning_content":"` + carriedValue + `","reasoning_content":"plain"`), at},
		{"twice, first plain", msg(`"reasoning_content":"plain","reasoning_content":"` + carriedValue + `"`), at},
		{"another case", msg(`"Reasoning_Content":"` + carriedValue + `"`), at},
		{"messages twice", `{"model":"m","reasoning_effort":"low","messages":[{"role":"user","content":"u"}],"messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a","reasoning_content":"` + carriedValue + `"},{"role":"user","content":"v"}]}`, at},
		{"not base64url", msg(`"reasoning_content":"meridian.r1.!!"`), at},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, c, a := carriedVerdict(t, []byte(tc.in))
			if o != tc.want || c != tc.want || a != tc.want {
				t.Errorf("OpenAI %q, Converse %q, Anthropic %q; want %q from each", o, c, a, tc.want)
			}
		})
	}
}

// FuzzCarriedSameAnswer: for any assistant message members in a Chat
// body that enables reasoning, an OpenAI deployment refuses the reasoning
// it carries exactly when the translating ones do, naming the same field.
func FuzzCarriedSameAnswer(f *testing.F) {
	for _, s := range []string{
		`"reasoning_content":"` + carriedValue + `"`,
		`"reasoning_content":"` + carriedValue + `","reasoning_content":"x"`,
		`"REASONING_CONTENT":"meridian.r1.x","reasoning_content":"y"`,
		`"reasoning\u005fcontent":"meridian\u002er1.W3sidCI6IngiLCJzIjoieSJ9XQ"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, members string) {
		body := []byte(`{"model":"m","reasoning_effort":"low","messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a",` + members + `},{"role":"user","content":"v"}]}`)
		if !json.Valid(body) {
			return
		}
		o, c, a := carriedVerdict(t, body)
		carried := func(f string) bool { return strings.HasSuffix(f, ".reasoning_content") }
		if o != "" && (c == "" || a == "") {
			t.Fatalf("OpenAI refuses %s at %q, Converse %q, Anthropic %q", body, o, c, a)
		}
		if (carried(c) || carried(a)) && o == "" {
			t.Fatalf("OpenAI serves %s, Converse %q, Anthropic %q refuse it", body, c, a)
		}
		if carried(o) && (c != o && !strings.HasPrefix(c, "(")) {
			t.Fatalf("OpenAI refuses %s at %q, Converse at %q", body, o, c)
		}
	})
}

// TestCarriedUnsignedToClaude: carried reasoning whose thinking text has
// no signature (reasoning another model wrote) is refused by name toward
// Claude (an Anthropic deployment, or Converse serving Claude), which
// checks the signature of every thinking block it is sent, and served
// elsewhere; signed carried reasoning is served everywhere.
func TestCarriedUnsignedToClaude(t *testing.T) {
	t.Parallel()
	body := func(value string) []byte {
		return []byte(`{"model":"m","reasoning_effort":"low","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello.","reasoning_content":"` + value + `"},{"role":"user","content":"Again"}]}`)
	}
	const unsigned = "meridian.r1.W3sidCI6IngifV0" // [{"t":"x"}]
	claude := translate.Options{Family: translate.BedrockFamily("anthropic.claude-sonnet-4-5-20250929-v1:0")}
	nova := translate.Options{Family: translate.BedrockFamily("amazon.nova-2-lite-v1:0")}
	tests := []struct {
		name    string
		backend translate.Dialect
		opts    translate.Options
		value   string
		refused bool
	}{
		{"anthropic unsigned", translate.Anthropic, translate.Options{}, unsigned, true},
		{"converse claude unsigned", translate.Converse, claude, unsigned, true},
		{"converse nova unsigned", translate.Converse, nova, unsigned, false},
		{"anthropic signed", translate.Anthropic, translate.Options{}, carriedValue, false},
		{"converse claude signed", translate.Converse, claude, carriedValue, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := translate.Request(translate.OpenAI, tc.backend, body(tc.value), "m", false, tc.opts)
			if !tc.refused {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ue *translate.UnsupportedError
			if !errors.As(err, &ue) || ue.Field != "messages[1].reasoning_content" || !strings.Contains(ue.Error(), "signature") {
				t.Fatalf("Request = %s, %v; want a refusal naming messages[1].reasoning_content", out, err)
			}
		})
	}
	// An OpenAI deployment takes no reasoning input: the value is removed
	// as any carried value is.
	if out, err := translate.StripCarriedReasoning(body(unsigned)); err != nil || bytes.Contains(out, []byte("meridian.r1.")) {
		t.Errorf("StripCarriedReasoning = %s, %v", out, err)
	}
}

// TestResponsesCarriedPath: a refusal of the reasoning a Chat body's
// message carries (messages[k].reasoning_content, made at a deployment)
// names, in the Responses request it came from, the encrypted_content of
// the reasoning item that holds a block without a signature, else of the
// first reasoning item that landed in that message, also when the message
// takes reasoning twice (a function_call merges into the assistant
// message before it, after reasoning items of its own).
func TestResponsesCarriedPath(t *testing.T) {
	t.Parallel()
	const unsigned = "meridian.r1.W3sidCI6IngifV0" // [{"t":"x"}]
	body := func(first, second string) string {
		return `{"model":"m","reasoning":{"effort":"low"},"input":[{"role":"user","content":"Hi"},` +
			`{"type":"reasoning","summary":[],"encrypted_content":"` + first + `"},` +
			`{"type":"reasoning","summary":[],"encrypted_content":"` + second + `"},` +
			`{"role":"assistant","content":"Hello."},{"role":"user","content":"Again"}]}`
	}
	// merged: reasoning, an assistant message, reasoning, then a
	// function_call that joins that assistant message (messages[1]).
	merged := func(first, second string) string {
		return `{"model":"m","reasoning":{"effort":"low"},"input":[{"role":"user","content":"Hi"},` +
			`{"type":"reasoning","summary":[],"encrypted_content":"` + first + `"},` +
			`{"role":"assistant","content":"Let me look."},` +
			`{"type":"reasoning","summary":[],"encrypted_content":"` + second + `"},` +
			`{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"},` +
			`{"type":"function_call_output","call_id":"c1","output":"ok"}]}`
	}
	tests := []struct{ name, body, want string }{
		{"first unsigned", body(unsigned, carriedValue), "input[1].encrypted_content"},
		{"second unsigned", body(carriedValue, unsigned), "input[2].encrypted_content"},
		{"both signed", body(carriedValue, carriedValue), "input[1].encrypted_content"},
		{"merged, second unsigned", merged(carriedValue, unsigned), "input[3].encrypted_content"},
		{"merged, first unsigned", merged(unsigned, carriedValue), "input[1].encrypted_content"},
		{"merged, both unsigned", merged(unsigned, unsigned), "input[1].encrypted_content"},
		{"merged, both signed", merged(carriedValue, carriedValue), "input[1].encrypted_content"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			chat, path, err := translate.ResponsesChatRequest([]byte(tc.body), "m", false)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(chat, []byte(`"reasoning_content":"meridian.r1.`)) {
				t.Fatalf("chat body %s carries no reasoning", chat)
			}
			if got := path("messages[1].reasoning_content"); got != tc.want {
				t.Errorf("path = %q, want %q", got, tc.want)
			}
		})
	}
}
