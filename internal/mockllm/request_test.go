package mockllm_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/mockllm"
)

func TestValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		body       string
		wantStatus int
		wantParam  string // "<null>" for null
		wantCode   string
	}{
		{"malformed JSON", `{"model":`, 400, "<null>", "<null>"},
		{"not an object", `[1,2]`, 400, "", "invalid_type"},
		{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "<null>", "<null>"},
		{"missing messages", `{"model":"m"}`, 400, "messages", "missing_required_parameter"},
		{"null messages", `{"model":"m","messages":null}`, 400, "messages", "missing_required_parameter"},
		{"empty messages", `{"model":"m","messages":[]}`, 400, "messages", "empty_array"},
		{"messages not an array", `{"model":"m","messages":"hi"}`, 400, "messages", "invalid_type"},
		{"missing role", `{"model":"m","messages":[{"content":"hi"}]}`, 400, "messages[0].role", "missing_required_parameter"},
		{"bad role", `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"robot","content":"hi"}]}`, 400, "messages[1].role", "invalid_value"},
		{"content a number", `{"model":"m","messages":[{"role":"user","content":7}]}`, 400, "content", "invalid_type"},
		{"max_tokens zero", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "max_tokens", "integer_below_min_value"},
		{"n of nine", `{"model":"m","n":9,"messages":[{"role":"user","content":"hi"}]}`, 400, "n", "unsupported_value"},
		{"five stops", `{"model":"m","stop":["a","b","c","d","e"],"messages":[{"role":"user","content":"hi"}]}`, 400, "stop", "array_above_max_length"},
		{"stop a number", `{"model":"m","stop":3,"messages":[{"role":"user","content":"hi"}]}`, 400, "stop", "invalid_type"},
		{"stream_options without stream", `{"model":"m","stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`, 400, "stream_options", "invalid_value"},
		{"unknown model", `{"model":"chat-huge","messages":[{"role":"user","content":"hi"}]}`, 404, "<null>", "model_not_found"},
		{"content parts", `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"x"}}]}]}`, 200, "", ""},
		{"null content and unknown fields", `{"model":"m","temperature":0.2,"messages":[{"role":"assistant","content":null},{"role":"user","content":"hi"}]}`, 200, "", ""},
		{"stop string", `{"model":"m","stop":"zzz","messages":[{"role":"user","content":"hi"}]}`, 200, "", ""},
	}
	srv, url := start(t, mockllm.Config{Models: []string{"m"}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := post(t, t.Context(), url, tc.body)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("POST %s: status %d, want %d; body %s", tc.body, resp.StatusCode, tc.wantStatus, body)
			}
			if tc.wantStatus == http.StatusOK {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			e := parseError(t, body)
			if e.Error.Type != "invalid_request_error" {
				t.Errorf("POST %s: error.type = %q, want invalid_request_error", tc.body, e.Error.Type)
			}
			if got := deref(e.Error.Param); tc.wantParam != "" && got != tc.wantParam {
				t.Errorf("POST %s: error.param = %s, want %s", tc.body, got, tc.wantParam)
			}
			if got := deref(e.Error.Code); got != tc.wantCode {
				t.Errorf("POST %s: error.code = %s, want %s", tc.body, got, tc.wantCode)
			}
		})
	}
	t.Run("stats", func(t *testing.T) {
		if st := srv.Stats(); st.Invalid != int64(len(tests)-3) {
			t.Errorf("Stats().Invalid = %d, want %d", st.Invalid, len(tests)-3)
		}
	})
}

func TestOtherEndpoints(t *testing.T) {
	t.Parallel()
	_, url := start(t, mockllm.Config{Models: []string{"m", "org/model-2"}})
	tests := []struct {
		method, path string
		wantStatus   int
		wantBody     string // substring
	}{
		{"GET", "/v1/models", 200, `{"object":"list","data":[{"id":"m","object":"model"`},
		{"GET", "/v1/models/org/model-2", 200, `"id":"org/model-2"`},
		{"GET", "/v1/models/nope", 404, `"code":"model_not_found"`},
		{"GET", "/healthz", 200, "ok"},
		{"GET", "/v1/embeddings", 404, `"Invalid URL (GET /v1/embeddings)"`},
		// As OpenAI does, a wrong method is an invalid URL.
		{"GET", "/v1/chat/completions", 404, `"Invalid URL (GET /v1/chat/completions)"`},
		{"GET", "/mockllm/v1/control", 200, `"state":{"down":false`},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, url+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tc.wantStatus || !strings.Contains(string(b), tc.wantBody) {
			t.Errorf("%s %s = %d %s, want %d containing %s", tc.method, tc.path, resp.StatusCode, b, tc.wantStatus, tc.wantBody)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  mockllm.Config
		want []string // substrings of the error; none: valid
	}{
		{"zero", mockllm.Config{}, nil},
		{"default", mockllm.Default(), nil},
		{"everything wrong", mockllm.Config{TTFT: -1, TokensPerSecond: -1, CompletionTokens: -1, MaxConcurrency: -1, RPM: -1, TPM: -1,
			FailRate: 1.5, FailStatus: 200, Models: []string{"a", "", "a"}},
			[]string{"ttft", "tokens_per_second", "completion_tokens", "max_concurrency", "rpm", "tpm", "fail_rate", "fail_status", "models[1]", "models[2]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err != nil) != (len(tc.want) > 0) {
				t.Fatalf("Validate() = %v, want error: %v", err, len(tc.want) > 0)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %v, want it to mention %s", err, w)
				}
			}
		})
	}
}
