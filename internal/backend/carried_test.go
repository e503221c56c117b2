package backend

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestOpenAICarriedReasoning: what an OpenAI-compatible deployment does
// with the reasoning a Responses request's Chat body carries for Claude
// (docs/api.md, "Earlier answers sent back"), as the translations to
// Converse and Anthropic do: with reasoning on, a carried value is left
// out (also when its prefix or key is written with JSON escapes, which
// the translators read as the prefix) and one that does not decode is
// refused by name, the client's mistake (no failover), instead of removed
// in silence; an empty reasoning_effort is refused as the translations
// refuse it; with reasoning_effort none (or absent) a reasoning_content is
// the client's own and passes as sent. The upstream is never called for a
// refusal.
func TestOpenAICarriedReasoning(t *testing.T) {
	t.Parallel()
	const good = "meridian.r1.W3sidCI6IngiLCJzIjoieSJ9XQ" // [{"t":"x","s":"y"}]
	body := func(effort, rc string) string {
		e := ""
		if effort != "" {
			e = `"reasoning_effort":` + effort + `,`
		}
		return `{"model":"eu.m",` + e + `"messages":[{"role":"user","content":"u"},{"role":"assistant","content":"a","reasoning_content":"` + rc + `"},{"role":"user","content":"next"}]}`
	}
	tests := []struct {
		name, body string
		sent       bool   // the upstream receives a reasoning_content
		refuse     string // the param of a refusal
	}{
		{"carried", body(`"low"`, good), false, ""},
		{"carried, escaped prefix", body(`"low"`, `meridian\u002er1.`+strings.TrimPrefix(good, "meridian.r1.")), false, ""},
		{"not decodable", body(`"low"`, "meridian.r1.!!"), false, "messages[1].reasoning_content"},
		{"not decodable, escaped prefix", body(`"high"`, `meridian\u002er1.!!`), false, "messages[1].reasoning_content"},
		{"empty effort", body(`""`, good), false, "reasoning_effort"},
		{"effort none: the client's own", body(`"none"`, good), true, ""},
		{"effort absent: the client's own", body(``, "meridian.r1.!!"), true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var got []byte
			calls := 0
			up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				got, _ = io.ReadAll(r.Body)
				calls++
				mu.Unlock()
				io.WriteString(w, `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)
			}))
			defer up.Close()
			o := NewOpenAI(OpenAIConfig{BaseURL: up.URL + "/v1", Model: "upstream-1"})
			defer o.Close()
			req, err := inference.Peek(inference.DialectOpenAIChat, "", []byte(tc.body), false)
			if err != nil {
				t.Fatal(err)
			}
			_, err = o.Complete(t.Context(), req)
			mu.Lock()
			defer mu.Unlock()
			if tc.refuse != "" {
				var e *inference.Error
				if !errors.As(err, &e) || e.Kind != inference.KindInvalidRequest || e.Param != tc.refuse || e.Unfit {
					t.Fatalf("Complete = %v (%+v); want the client's 400 naming %s, not a deployment's refusal", err, e, tc.refuse)
				}
				if calls != 0 {
					t.Fatalf("upstream called %d times for a refused request", calls)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sent := strings.Contains(string(got), "reasoning_content"); sent != tc.sent {
				t.Errorf("upstream received %s; reasoning_content sent = %v, want %v", got, sent, tc.sent)
			}
		})
	}
}
