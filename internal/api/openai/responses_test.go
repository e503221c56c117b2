package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

func postTo(t *testing.T, srv *httptest.Server, path, body string) (*http.Response, []byte) {
	t.Helper()
	return postWith(t, srv, path, testKey, body)
}

// TestResponsesRefusals: what a stateless gateway cannot serve, and what
// is malformed, gets a 400 in OpenAI's error shape naming the field.
func TestResponsesRefusals(t *testing.T) {
	t.Parallel()
	srv := newServer(t, &fakeBackend{})
	tests := []struct {
		name, body, param string
	}{
		{"previous_response_id", `{"model":"eu.m","input":"hi","previous_response_id":"resp_1"}`, "previous_response_id"},
		{"conversation", `{"model":"eu.m","input":"hi","conversation":"conv_1"}`, "conversation"},
		{"background", `{"model":"eu.m","input":"hi","background":true}`, "background"},
		{"no model", `{"input":"hi"}`, "model"},
		{"unknown field", `{"model":"eu.m","input":"hi","x_unknown":1}`, "x_unknown"},
		{"not JSON", `{"model":`, ""},
		{"negative max_output_tokens", `{"model":"eu.m","input":"hi","max_output_tokens":-1}`, "max_output_tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := postTo(t, srv, "/v1/responses", tc.body)
			var e errorBody
			if resp.StatusCode != 400 || json.Unmarshal(b, &e) != nil || e.Error.Type != "invalid_request_error" || e.Error.Message == "" {
				t.Fatalf("%d %s, want a 400 in OpenAI's shape", resp.StatusCode, b)
			}
			if got := ""; e.Error.Param != nil {
				got = *e.Error.Param
				if tc.param != "" && !strings.Contains(got, tc.param) {
					t.Errorf("param %q, want %q", got, tc.param)
				}
			} else if tc.param != "" {
				t.Errorf("no param, want %q: %s", tc.param, b)
			}
		})
	}
}

// TestResponsesCanonicalBackend: a backend that answers without a body
// (re-encoded) is shown as a Response, and its stream as typed events; a
// failure mid-stream ends the stream with response.failed.
func TestResponsesCanonicalBackend(t *testing.T) {
	t.Parallel()
	srv := newServer(t, &fakeBackend{})
	resp, b := postTo(t, srv, "/v1/responses", `{"model":"eu.m","input":"hi"}`)
	var r struct {
		ID, Object, Status, Model string
		Output                    []struct {
			Type    string
			Content []struct{ Type, Text string }
		}
		Usage struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		}
	}
	if resp.StatusCode != 200 || json.Unmarshal(b, &r) != nil || r.Object != "response" || r.Status != "completed" || r.Model != "eu.m" ||
		len(r.Output) != 1 || r.Output[0].Content[0].Text != "hi" || r.Usage.InputTokens != 3 || r.Usage.OutputTokens != 1 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}

	complete := newServerWith(t, &finishingBackend{})
	resp, b = postTo(t, complete, "/v1/responses", `{"model":"eu.m","input":"hi","stream":true}`)
	types := eventTypes(t, string(b))
	if resp.StatusCode != 200 || len(types) < 3 || types[0] != "response.created" || types[len(types)-1] != "response.completed" ||
		!strings.Contains(string(b), `"delta":"Hel"`) {
		t.Fatalf("%d %v\n%s", resp.StatusCode, types, b)
	}

	if !strings.Contains(string(b), `"input_tokens":3,`) || !strings.Contains(string(b), `"output_tokens":1,`) {
		t.Errorf("response.completed carries no usage:\n%s", b)
	}

	// A stream that ends without its finish is not a completed response.
	_, b = postTo(t, srv, "/v1/responses", `{"model":"eu.m","input":"hi","stream":true}`)
	if types = eventTypes(t, string(b)); types[len(types)-1] != "response.failed" {
		t.Errorf("unfinished stream ends with %v", types)
	}

	failing := newServer(t, &fakeBackend{streamErr: errors.New("connection reset")})
	_, b = postTo(t, failing, "/v1/responses", `{"model":"eu.m","input":"hi","stream":true}`)
	types = eventTypes(t, string(b))
	if len(types) == 0 || types[len(types)-1] != "response.failed" || !strings.Contains(string(b), `"delta":"Hel"`) {
		t.Fatalf("stream %v\n%s, want text then response.failed", types, b)
	}
}

// finishingBackend streams a whole answer: text, stop and usage.
type finishingBackend struct{ fakeBackend }

func (b *finishingBackend) Stream(context.Context, *inference.Request) (inference.Stream, error) {
	return &fakeStream{events: []inference.Event{{Kind: inference.EventStart}, {Kind: inference.EventDelta, Text: "Hel"},
		{Kind: inference.EventStop, StopReason: inference.StopEndTurn}, {Kind: inference.EventUsage, Usage: &inference.Usage{InputTokens: 3, OutputTokens: 1}}}}, nil
}

// eventTypes returns the event: lines of an SSE stream, checking that each
// matches its data's type.
func eventTypes(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	for _, block := range strings.Split(strings.TrimSpace(s), "\n\n") {
		ev, data, ok := strings.Cut(block, "\ndata: ")
		if !ok || !strings.HasPrefix(ev, "event: ") {
			t.Fatalf("malformed event %q", block)
		}
		typ := strings.TrimPrefix(ev, "event: ")
		var d struct{ Type string }
		if json.Unmarshal([]byte(data), &d) != nil || d.Type != typ {
			t.Fatalf("event %q carries data of type %q", typ, d.Type)
		}
		out = append(out, typ)
	}
	return out
}

// TestMidStreamFailureSameWords: a failure after the first byte reads the
// same on Chat Completions and Responses streams: the same message and
// code (the Responses stream said "the backend failed" whatever the cause).
func TestMidStreamFailureSameWords(t *testing.T) {
	t.Parallel()
	const msg = "the model's answer was cut off"
	srv := newServer(t, &fakeBackend{streamErr: &inference.Error{Kind: inference.KindUpstream, Message: msg}})
	_, chat := post(t, srv, testKey, `{"model":"eu.m","stream":true,`+hello+`}`)
	_, resp := postTo(t, srv, "/v1/responses", `{"model":"eu.m","input":"hi","stream":true}`)
	for _, want := range []string{`"message":"` + msg + `"`, `"code":"upstream_error"`} {
		for name, b := range map[string][]byte{"chat": chat, "responses": resp} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s stream lacks %s:\n%s", name, want, b)
			}
		}
	}
	if strings.Contains(string(resp), "the backend failed") {
		t.Errorf("responses stream still says the backend failed:\n%s", resp)
	}
}
