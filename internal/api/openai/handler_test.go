package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
	"github.com/meridian-gateway/meridian/internal/inference"
)

const testKey = "sk-test-openai-front-end"

// fakeBackend answers every request, or streams text and then fails
// mid-stream when streamErr is set.
type fakeBackend struct{ streamErr error }

var _ backend.Backend = (*fakeBackend)(nil)

func (b *fakeBackend) Complete(_ context.Context, req *inference.Request) (*inference.Response, error) {
	if req.Dialect == inference.DialectOpenAIEmbeddings {
		return &inference.Response{Dialect: inference.DialectOpenAIEmbeddings, Usage: inference.Usage{InputTokens: 1},
			Body: []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.6,0.8]}],"model":"m","usage":{"prompt_tokens":1,"total_tokens":1}}`)}, nil
	}
	return &inference.Response{Message: inference.TextMessage(inference.RoleAssistant, "hi"), StopReason: inference.StopEndTurn,
		Usage: inference.Usage{InputTokens: 3, OutputTokens: 1}}, nil
}

func (b *fakeBackend) Stream(context.Context, *inference.Request) (inference.Stream, error) {
	return &fakeStream{events: []inference.Event{{Kind: inference.EventStart}, {Kind: inference.EventDelta, Text: "Hel"}}, end: b.streamErr}, nil
}

func (b *fakeBackend) Close() error { return nil }

type fakeStream struct {
	events []inference.Event
	end    error
}

func (s *fakeStream) Recv() (inference.Event, error) {
	if len(s.events) == 0 {
		if s.end == nil {
			return inference.Event{}, io.EOF
		}
		return inference.Event{}, s.end
	}
	ev := s.events[0]
	s.events = s.events[1:]
	return ev, nil
}

func (s *fakeStream) Close() error { return nil }

// newServer serves the OpenAI front end of a one-region gateway over a
// real socket.
func newServer(t *testing.T, b *fakeBackend) *httptest.Server {
	t.Helper()
	return newServerWith(t, b)
}

// newServerWith is newServer with any backend for model m.
func newServerWith(t *testing.T, b backend.Backend) *httptest.Server {
	t.Helper()
	return newServerClock(t, b, nil)
}

// newServerClock is newServerWith with the front end's clock (nil:
// clock.Wall).
func newServerClock(t *testing.T, b backend.Backend, clk clock.Clock) *httptest.Server {
	t.Helper()
	return newServerWrapped(t, b, clk, func(h http.Handler) http.Handler { return h })
}

// newServerWrapped is newServerClock with the front end's handler wrapped.
func newServerWrapped(t *testing.T, b backend.Backend, clk clock.Clock, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	g := gatewaytest.OneRegion(t, testKey, b)
	mux := http.NewServeMux()
	New(g, Options{MaxRequestBytes: 8 << 20, Clock: clk}).Register(mux)
	srv := httptest.NewServer(wrap(mux))
	t.Cleanup(srv.Close)
	return srv
}

func post(t *testing.T, srv *httptest.Server, key, body string) (*http.Response, []byte) {
	t.Helper()
	return postWith(t, srv, "/v1/chat/completions", key, body)
}

// postWith posts body to path with key as the bearer API key (none when
// empty) and returns the response and its body.
func postWith(t *testing.T, srv *httptest.Server, path, key, body string) (*http.Response, []byte) {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		r.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

const hello = `"messages":[{"role":"user","content":"hello"}]`

// TestErrorShapes: every refusal is OpenAI's {"error":{message,type,param,
// code}} with the right status, names the field at fault, and never echoes
// more than a clipped piece of what the caller sent.
func TestErrorShapes(t *testing.T) {
	t.Parallel()
	srv := newServer(t, &fakeBackend{})
	huge := strings.Repeat("x", 3<<20)
	tests := []struct {
		name   string
		key    string
		body   string
		status int
		typ    string
		param  string // "" for null
		code   string
	}{
		{"no key", "", `{"model":"eu.m",` + hello + `}`, 401, "authentication_error", "", "invalid_api_key"},
		{"wrong key", "sk-wrong", `{"model":"eu.m",` + hello + `}`, 401, "authentication_error", "", "invalid_api_key"},
		{"not JSON", testKey, `{"model":`, 400, "invalid_request_error", "", "invalid_request"},
		{"no model", testKey, `{` + hello + `}`, 400, "invalid_request_error", "model", "invalid_request"},
		{"no messages", testKey, `{"model":"eu.m","messages":[]}`, 400, "invalid_request_error", "messages", "invalid_request"},
		{"n=0", testKey, `{"model":"eu.m","n":0,` + hello + `}`, 400, "invalid_request_error", "n", "invalid_request"},
		{"temperature", testKey, `{"model":"eu.m","temperature":3,` + hello + `}`, 400, "invalid_request_error", "temperature", "invalid_request"},
		{"top_p", testKey, `{"model":"eu.m","top_p":-1,` + hello + `}`, 400, "invalid_request_error", "top_p", "invalid_request"},
		{"stop", testKey, `{"model":"eu.m","stop":5,` + hello + `}`, 400, "invalid_request_error", "stop", "invalid_request"},
		{"bad role", testKey, `{"model":"eu.m","messages":[{"role":"` + huge + `","content":"x"}]}`, 400, "invalid_request_error", "messages[0].role", "invalid_request"},
		{"bad content", testKey, `{"model":"eu.m","messages":[{"role":"user","content":["` + huge + `"]}]}`, 400, "invalid_request_error", "messages[0].content", "invalid_request"},
		{"negative max_tokens", testKey, `{"model":"eu.m","max_tokens":-1,` + hello + `}`, 400, "invalid_request_error", "max_tokens", "invalid_request"},
		{"negative max_completion_tokens", testKey, `{"model":"eu.m","max_completion_tokens":-5,` + hello + `}`, 400, "invalid_request_error", "max_completion_tokens", "invalid_request"},
		{"max_tokens max int64", testKey, `{"model":"eu.m","max_tokens":9223372036854775807,` + hello + `}`, 400, "invalid_request_error", "max_tokens", "invalid_max_tokens"},
		{"max_completion_tokens above context window", testKey, `{"model":"eu.m","max_completion_tokens":8193,` + hello + `}`, 400, "invalid_request_error", "max_completion_tokens", "invalid_max_tokens"},
		{"max_tokens beyond int64", testKey, `{"model":"eu.m","max_tokens":1` + strings.Repeat("0", 1<<20) + `,` + hello + `}`, 400, "invalid_request_error", "max_tokens", "invalid_request"},
		{"max_tokens not an integer", testKey, `{"model":"eu.m","max_tokens":1.5,` + hello + `}`, 400, "invalid_request_error", "max_tokens", "invalid_request"},
		{"model not a string", testKey, `{"model":5,` + hello + `}`, 400, "invalid_request_error", "model", "invalid_request"},
		{"body not an object", testKey, `[1]`, 400, "invalid_request_error", "", "invalid_request"},
		{"unknown model", testKey, `{"model":"eu.nope",` + hello + `}`, 404, "invalid_request_error", "model", "model_not_found"},
		{"3 MB model", testKey, `{"model":"` + huge + `",` + hello + `}`, 400, "invalid_request_error", "model", "invalid_request"},
		{"too large", testKey, `{"model":"eu.m","messages":[{"role":"user","content":"` + strings.Repeat("y", 9<<20) + `"}]}`, 413, "invalid_request_error", "", "request_too_large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, body := post(t, srv, tc.key, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %.300s", resp.StatusCode, tc.status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var eb struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    *string `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &eb); err != nil {
				t.Fatalf("body is not OpenAI's error shape: %v: %.300s", err, body)
			}
			e := eb.Error
			param := ""
			if e.Param != nil {
				param = *e.Param
			}
			if e.Type != tc.typ || param != tc.param || e.Code == nil || *e.Code != tc.code || e.Message == "" {
				t.Errorf("error = {type %q param %q code %v message %.100q}, want type %q param %q code %q", e.Type, param, deref(e.Code), e.Message, tc.typ, tc.param, tc.code)
			}
			if len(body) > 1024 {
				t.Errorf("error body of %d bytes echoes the request: %.300s", len(body), body)
			}
			if resp.Header.Get("x-meridian-request-id") == "" {
				t.Error("no x-meridian-request-id")
			}
		})
	}
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// TestStreamErrorIsInStream: an error after the first byte (here the
// model's stall, a time-out) ends the stream with an OpenAI error event and
// no [DONE], with status 200 already sent.
func TestStreamErrorIsInStream(t *testing.T) {
	t.Parallel()
	srv := newServer(t, &fakeBackend{streamErr: &inference.Error{Kind: inference.KindTimeout, Message: "the model stopped sending (no event for 15s)"}})
	resp, body := post(t, srv, testKey, `{"model":"eu.m","stream":true,`+hello+`}`)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	events := bytes.Split(bytes.TrimSpace(body), []byte("\n\n"))
	last := string(events[len(events)-1])
	if !strings.HasPrefix(last, `data: {"error":{"message":"the model stopped sending`) || !strings.Contains(last, `"type":"timeout"`) || strings.Contains(string(body), "[DONE]") {
		t.Errorf("stream ends with %q (body %q), want an in-stream timeout error and no [DONE]", last, body)
	}
}

func TestSuccess(t *testing.T) {
	t.Parallel()
	srv := newServer(t, &fakeBackend{})
	resp, body := post(t, srv, testKey, `{"model":"eu.m","max_tokens":8192,`+hello+`}`)
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"content":"hi"`)) {
		t.Errorf("status %d body %s, want 200 with the answer", resp.StatusCode, body)
	}
}
