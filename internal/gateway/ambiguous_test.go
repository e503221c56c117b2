package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
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

// TestCheckInvokeAmbiguous: another family's InvokeModel body that names
// a member Meridian reads (where each family bounds its output, and
// anthropic_version) twice in any spelling, or once with an escape or in
// another case, is refused with a 400 naming it; a body naming each once,
// exactly, passes, whatever else it holds.
func TestCheckInvokeAmbiguous(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body, want string // want: the message, "" when it passes
	}{
		{"llama", `{"prompt":"hi","max_gen_len":100}`, ""},
		{"titan", `{"inputText":"hi","textGenerationConfig":{"maxTokenCount":3,"temperature":0}}`, ""},
		{"nova", `{"messages":[],"inferenceConfig":{"max_new_tokens":3}}`, ""},
		{"imported", `{"inputs":"hi","parameters":{"max_new_tokens":3}}`, ""},
		{"nested elsewhere", `{"prompt":"hi","max_gen_len":1,"x":{"max_gen_len":2,"max_gen_len":3}}`, ""},
		{"llama twice", `{"prompt":"hi","max_gen_len":10,"max_gen_len":100000}`, "max_gen_len is named more than once; send it once"},
		{"llama in another case", `{"max_gen_len":100000,"MAX_GEN_LEN":10}`, "max_gen_len is named more than once; send it once"},
		{"llama escaped", `{"max\u005fgen_len":100000}`, `max_gen_len is named with an escape or in another case; send it as "max_gen_len"`},
		{"mistral twice", `{"prompt":"hi","max_tokens":1,"max_tokens":2}`, "max_tokens is named more than once; send it once"},
		{"jurassic twice", `{"prompt":"hi","maxTokens":1,"maxtokens":2}`, "maxTokens is named more than once; send it once"},
		{"titan config twice", `{"textGenerationConfig":{"maxTokenCount":1},"textGenerationConfig":{"maxTokenCount":2}}`, "textGenerationConfig is named more than once; send it once"},
		{"titan bound twice", `{"textGenerationConfig":{"maxTokenCount":1,"maxTokenCount":2}}`, "textGenerationConfig.maxTokenCount is named more than once; send it once"},
		{"titan bound in another case", `{"textGenerationConfig":{"MaxTokenCount":2}}`, `textGenerationConfig.maxTokenCount is named with an escape or in another case; send it as "textGenerationConfig.maxTokenCount"`},
		{"nova bound twice", `{"inferenceConfig":{"max_new_tokens":1,"max_new_tokens":2}}`, "inferenceConfig.max_new_tokens is named more than once; send it once"},
		{"nova camel twice", `{"inferenceConfig":{"maxTokens":1,"MAXTOKENS":2}}`, "inferenceConfig.maxTokens is named more than once; send it once"},
		{"imported bound twice", `{"parameters":{"max_new_tokens":1,"max_new_tokens":2}}`, "parameters.max_new_tokens is named more than once; send it once"},
		{"anthropic_version in another case", `{"Anthropic_Version":"bedrock-2023-05-31","max_tokens":1}`, `anthropic_version is named with an escape or in another case; send it as "anthropic_version"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := checkAmbiguous(&inference.Request{Dialect: inference.DialectInvoke, Body: []byte(tc.body)})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || err.Kind != inference.KindInvalidRequest || err.Message != tc.want || !strings.HasPrefix(tc.want, err.Param+" ") {
				t.Fatalf("got %#v; want a 400 %q", err, tc.want)
			}
		})
	}
}

// TestInvokeAmbiguousSourceAndDestination: another family's InvokeModel
// body that names its output bound twice is refused by the source's
// Invoke before any backend runs, and by a destination's ServeForwarded
// too (a source from before the check may forward it), each recorded
// once; the same body with the bound once passes the check both ways.
func TestInvokeAmbiguousSourceAndDestination(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body, param string }{
		{"once", `{"prompt":"hi","max_gen_len":10}`, ""},
		{"twice", `{"prompt":"hi","max_gen_len":10,"max_gen_len":100000}`, "max_gen_len"},
		{"nested in another case", `{"inputText":"hi","textGenerationConfig":{"maxTokenCount":10,"MAXTOKENCOUNT":100000}}`, "textGenerationConfig.maxTokenCount"},
	} {
		for _, forwarded := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/forwarded=%v", tc.name, forwarded), func(t *testing.T) {
				t.Parallel()
				h := newPathHarness(t)
				var calls atomic.Int64
				serve := func(context.Context, *inference.Request) (*inference.Response, error) {
					calls.Add(1)
					return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "ok"), Usage: inference.Usage{InputTokens: 5, OutputTokens: 1}}, nil
				}
				h.local.complete, h.remote.complete = serve, serve
				req, err := inference.PeekInvoke("eu.m", []byte(tc.body), false)
				if err != nil || req.Dialect != inference.DialectInvoke {
					t.Fatalf("peek: %v, dialect %v", err, req.Dialect)
				}
				if forwarded {
					job := &Job{RequestID: "fw", Operation: OpInvokeModel, SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1",
						ProfileID: "eu.m", Model: "m", Principal: h.principal, Request: req}
					_, err = h.g.ServeForwarded(t.Context(), job)
				} else {
					call := h.call("ambiguous", "eu.m", false)
					call.Operation, call.Request = OpInvokeModel, req
					_, err = h.g.Invoke(t.Context(), call)
				}
				h.recorder.mu.Lock()
				n := len(h.recorder.recs)
				h.recorder.mu.Unlock()
				if n != 1 {
					t.Fatalf("%d audit records; want exactly one", n)
				}
				e := inference.AsError(err)
				if tc.param == "" {
					// Passed by the check (the source then finds no
					// Bedrock deployment of m to serve it as is).
					if err != nil && strings.Contains(e.Message, " is named") {
						t.Fatalf("= %v; want it past the check", err)
					}
					return
				}
				if err == nil || e.Kind != inference.KindInvalidRequest || e.Param != tc.param || !strings.HasPrefix(e.Message, tc.param+" is named") {
					t.Fatalf("= %v (param %q); want the client's 400 naming %s", err, e.Param, tc.param)
				}
				if calls.Load() != 0 {
					t.Fatalf("%d backend calls; want none for a refused body", calls.Load())
				}
			})
		}
	}
}

// FuzzCheckInvokeAmbiguous: the body is the caller's; the check never
// panics, and a body it passes names no bound the peek reads differently
// from a full decode's last copy.
func FuzzCheckInvokeAmbiguous(f *testing.F) {
	for _, s := range []string{
		`{"max_gen_len":100000,"MAX_GEN_LEN":10}`,
		`{"textGenerationConfig":{"maxTokenCount":1,"maxTokenCount":2}}`,
		`{"inferenceConfig":{"max_new_tokens":3}}`,
		`{"prompt":"x","max_gen_len":5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := inference.PeekInvoke("meta.llama3-8b-instruct-v1:0", body, false)
		if err != nil || req.Dialect != inference.DialectInvoke || checkAmbiguous(req) != nil || req.MaxTokensParam == "" {
			return
		}
		// What a decoder that takes the last copy reads at the same path.
		got := lastCopy(body, req.MaxTokensParam)
		if got == nil || string(got) != strconv.FormatInt(int64(req.MaxTokens), 10) {
			t.Fatalf("%s: peek reserves %s=%d, a decoder reads %s", body, req.MaxTokensParam, req.MaxTokens, got)
		}
	})
}

// lastCopy is the raw value at the dotted path of body as encoding/json
// reads an object into a map (the last copy of each exact name), or nil.
func lastCopy(body []byte, path string) []byte {
	v := body
	for _, k := range strings.Split(path, ".") {
		var m map[string]json.RawMessage
		if json.Unmarshal(v, &m) != nil {
			return nil
		}
		if v = m[k]; v == nil {
			return nil
		}
	}
	return v
}
