package gateway

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestAmbiguousPassThroughMembers: an Anthropic Messages or Converse body,
// which goes upstream as it is, that names a member Meridian reads (the
// max tokens quotas reserve, the version, the request metadata audited,
// the service tier ...) twice in any spelling, or once with an escape or in
// another case, is refused at once with a 400 naming it, before any
// backend runs, and recorded once; the peek would read one copy and the
// upstream may serve another. A member named once, exactly, and a
// duplicate of a member Meridian does not read, pass.
func TestAmbiguousPassThroughMembers(t *testing.T) {
	t.Parallel()
	const (
		an = `"anthropic_version":"bedrock-2023-05-31","messages":[{"role":"user","content":"hi"}]`
		cv = `"messages":[{"role":"user","content":[{"text":"hi"}]}]`
	)
	cases := []struct {
		name    string
		dialect inference.Dialect
		body    string
		param   string // "" when served
	}{
		{"anthropic plain", inference.DialectAnthropic, `{` + an + `,"max_tokens":10}`, ""},
		{"anthropic max_tokens twice", inference.DialectAnthropic, `{` + an + `,"max_tokens":10,"max_tokens":100000}`, "max_tokens"},
		{"anthropic max_tokens other case", inference.DialectAnthropic, `{` + an + `,"max_tokens":100000,"MAX_TOKENS":10}`, "max_tokens"},
		{"anthropic max_tokens escaped", inference.DialectAnthropic, `{` + an + `,"max_tok\u0065ns":10}`, "max_tokens"},
		{"anthropic version twice", inference.DialectAnthropic, `{"anthropic_version":"bedrock-2023-05-31",` + an[len(`"anthropic_version":"bedrock-2023-05-31",`):] + `,"Anthropic_Version":"x","max_tokens":10}`, "anthropic_version"},
		{"anthropic stream other case", inference.DialectAnthropic, `{` + an + `,"max_tokens":10,"Stream":true}`, "stream"},
		{"anthropic model other case", inference.DialectAnthropic, `{` + an + `,"max_tokens":10,"Model":"us.m"}`, "model"},
		{"anthropic thinking twice", inference.DialectAnthropic, `{` + an + `,"max_tokens":10,"thinking":{"type":"disabled"},"thinking":{"type":"enabled","budget_tokens":1024}}`, "thinking"},
		{"anthropic unread member twice", inference.DialectAnthropic, `{` + an + `,"max_tokens":10,"x_vendor":1,"X_VENDOR":2}`, ""},
		{"converse plain", inference.DialectConverse, `{` + cv + `,"inferenceConfig":{"maxTokens":10}}`, ""},
		{"converse inferenceConfig twice", inference.DialectConverse, `{` + cv + `,"inferenceConfig":{"maxTokens":10},"inferenceConfig":{"maxTokens":100000}}`, "inferenceConfig"},
		{"converse maxTokens twice", inference.DialectConverse, `{` + cv + `,"inferenceConfig":{"maxTokens":10,"maxTokens":100000}}`, "inferenceConfig.maxTokens"},
		{"converse maxTokens other case", inference.DialectConverse, `{` + cv + `,"inferenceConfig":{"maxtokens":100000}}`, "inferenceConfig.maxTokens"},
		{"converse requestMetadata other case", inference.DialectConverse, `{` + cv + `,"RequestMetadata":{"team":"a"}}`, "requestMetadata"},
		{"converse serviceTier type escaped", inference.DialectConverse, `{` + cv + `,"serviceTier":{"typ\u0065":"flex"}}`, "serviceTier.type"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newPathHarness(t)
			var calls atomic.Int64
			serve := func(context.Context, *inference.Request) (*inference.Response, error) {
				calls.Add(1)
				return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok"), Usage: inference.Usage{InputTokens: 5, OutputTokens: 1}}, nil
			}
			h.local.complete, h.remote.complete = serve, serve
			req, err := inference.Peek(tc.dialect, "eu.m", []byte(tc.body), false)
			if err != nil {
				t.Fatalf("peek: %v", err)
			}
			call := h.call("ambiguous", "eu.m", false)
			call.Request = req
			_, err = h.g.Invoke(t.Context(), call)
			h.recorder.mu.Lock()
			n := len(h.recorder.recs)
			h.recorder.mu.Unlock()
			if n != 1 {
				t.Fatalf("%d audit records; want exactly one", n)
			}
			if tc.param == "" {
				if err != nil || calls.Load() != 1 {
					t.Fatalf("Invoke = %v after %d backend calls; want it served", err, calls.Load())
				}
				return
			}
			e := inference.AsError(err)
			if err == nil || e.Kind != inference.KindInvalidRequest || e.Param != tc.param || !strings.HasPrefix(e.Message, tc.param+" is named") || e.Unfit {
				t.Fatalf("Invoke = %v (param %q); want the client's 400 naming %s", err, e.Param, tc.param)
			}
			if calls.Load() != 0 {
				t.Fatalf("%d backend calls; want none for a refused body", calls.Load())
			}
		})
	}
}
