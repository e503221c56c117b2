package anthropic

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestWriteError: each error kind takes Anthropic's type, the kind's
// status, the request id and, for a refusal with limits, Retry-After and
// the anthropic-ratelimit-* headers in place of the x-ratelimit-* ones.
func TestWriteError(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		kind   inference.ErrorKind
		status int
		typ    string
	}{
		{inference.KindInvalidRequest, 400, "invalid_request_error"},
		{inference.KindUnauthenticated, 401, "authentication_error"},
		{inference.KindPermissionDenied, 403, "permission_error"},
		{inference.KindNotFound, 404, "not_found_error"},
		{inference.KindTimeout, 408, "timeout_error"},
		{inference.KindPayloadTooLarge, 413, "request_too_large"},
		{inference.KindThrottled, 429, "rate_limit_error"},
		{inference.KindUnavailable, 503, "overloaded_error"},
		{inference.KindUpstream, 502, "api_error"},
		{inference.KindInternal, 500, "api_error"},
	}
	for _, tc := range tests {
		t.Run(tc.typ, func(t *testing.T) {
			w := httptest.NewRecorder()
			w.Header().Set(HeaderRequestID, "req-1")
			e := &inference.Error{Kind: tc.kind, Message: "it failed", Param: "messages[0]"}
			if tc.kind == inference.KindThrottled {
				e.RetryAfter = 1500 * time.Millisecond
				e.Header = http.Header{}
				e.Header.Set("x-ratelimit-limit-requests", "60")
				e.Header.Set("x-ratelimit-remaining-requests", "0")
				e.Header.Set("x-ratelimit-reset-requests", "1.5s")
			}
			writeError(w, e, now)
			var b errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
				t.Fatal(err)
			}
			if w.Code != tc.status || b.Type != "error" || b.Error.Type != tc.typ || b.RequestID != "req-1" || !strings.Contains(b.Error.Message, "messages[0]") {
				t.Fatalf("status %d body %s, want %d %s naming the param, with the request id", w.Code, w.Body, tc.status, tc.typ)
			}
			if tc.kind != inference.KindThrottled {
				return
			}
			h := w.Header()
			want := map[string]string{"Retry-After": "2", "anthropic-ratelimit-requests-limit": "60", "anthropic-ratelimit-requests-remaining": "0",
				"anthropic-ratelimit-requests-reset": "2026-01-02T03:04:06Z", "x-ratelimit-limit-requests": ""}
			for k, v := range want {
				if h.Get(k) != v {
					t.Errorf("%s = %q, want %q", k, h.Get(k), v)
				}
			}
		})
	}
}

// TestDecode: the /v1/messages body becomes the InvokeModel form, with the
// anthropic-beta header as anthropic_beta.
func TestDecode(t *testing.T) {
	hdr := http.Header{}
	hdr.Add("Anthropic-Beta", "a-1, b-2")
	hdr.Add("Anthropic-Beta", "c-3")
	req, err := decode(hdr, []byte(`{"model":"eu.demo.br","stream":true,"max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatal(err)
	}
	if req.Model != "eu.demo.br" || !req.Stream || req.Dialect != inference.DialectAnthropic || body["model"] != nil || body["stream"] != nil ||
		body["anthropic_version"] != "bedrock-2023-05-31" || len(body["anthropic_beta"].([]any)) != 3 {
		t.Fatalf("request %+v body %s", req, req.Body)
	}
	many := http.Header{"Anthropic-Beta": {strings.Repeat("x,", maxBetas+1)}}
	if _, err := decode(many, []byte(`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`), nil, ""); err == nil {
		t.Fatal("more than maxBetas anthropic-beta values accepted")
	}
}

// FuzzDecode: no body or anthropic-beta header panics the decoder, a
// refusal is an invalid request, and an accepted body keeps its model and
// is in the InvokeModel form.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"model":"eu.demo.br","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}`), "b-1")
	f.Add([]byte(`{"model":"x","stream":true,"max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA=="}}]}],"tools":[{"name":"t","input_schema":{}}]}`), "")
	f.Add([]byte(`{"model":"x","model":"y","anthropic_beta":["z"]}`), "a,b")
	f.Fuzz(func(t *testing.T, body []byte, beta string) {
		hdr := http.Header{}
		if beta != "" {
			hdr.Set("Anthropic-Beta", beta)
		}
		req, err := decode(hdr, body, nil, "")
		if req == nil {
			t.Fatal("nil request")
		}
		if err != nil {
			if e, ok := err.(*inference.Error); !ok || e.Kind != inference.KindInvalidRequest {
				t.Fatalf("error %v, want an invalid request", err)
			}
			return
		}
		if req.Model == "" || inference.Field(req.Body, "model") != nil || inference.Field(req.Body, "anthropic_version") == nil {
			t.Fatalf("accepted %q as %+v body %q", body, req, req.Body)
		}
	})
}
