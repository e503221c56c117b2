package openai

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestServiceTierEveryGenerationAPI: chat completions, Responses and
// embeddings read the caller's service tier alike (gateway.ReadServiceTier): the
// X-Amzn-Bedrock-Service-Tier header, else the body's service_tier; the
// answer names the tier that served it, and a value that names no tier
// is a 400 naming where the caller put it.
func TestServiceTierEveryGenerationAPI(t *testing.T) {
	t.Parallel()
	srv := newServer(t, &fakeBackend{})
	bodies := map[string]string{
		"/v1/chat/completions": `{"model":"eu.m",` + hello + `%s}`,
		"/v1/responses":        `{"model":"eu.m","input":"hello"%s}`,
		"/v1/embeddings":       `{"model":"eu.m","input":"hello"%s}`,
	}
	tests := []struct {
		name, header, field string
		stream              bool
		want                string // served tier; empty for a refusal
		param               string // the refusal's param
	}{
		{name: "none", want: "default"},
		{name: "header priority", header: "priority", want: "priority"},
		{name: "header flex", header: "flex", want: "flex"},
		{name: "body priority", field: `"priority"`, want: "priority"},
		{name: "body auto", field: `"auto"`, want: "default"},
		{name: "header and body agree", header: "priority", field: `"priority"`, want: "priority"},
		{name: "header and body auto", header: "flex", field: `"auto"`, want: "flex"},
		{name: "header unknown", header: "gold", param: "X-Amzn-Bedrock-Service-Tier"},
		{name: "body unknown", field: `"gold"`, param: "service_tier"},
		{name: "streamed body flex", field: `"flex"`, stream: true, want: "flex"},
		{name: "streamed header unknown", header: "gold", stream: true, param: "X-Amzn-Bedrock-Service-Tier"},
	}
	for path, tmpl := range bodies {
		for _, tc := range tests {
			if tc.stream && path == "/v1/embeddings" {
				continue // embeddings do not stream
			}
			t.Run(strings.TrimPrefix(path, "/v1/")+"/"+tc.name, func(t *testing.T) {
				extra := ""
				if tc.field != "" {
					extra = `,"service_tier":` + tc.field
				}
				if tc.stream {
					extra += `,"stream":true`
				}
				r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+path, strings.NewReader(strings.Replace(tmpl, "%s", extra, 1)))
				if err != nil {
					t.Fatal(err)
				}
				r.Header.Set("Authorization", "Bearer "+testKey)
				if tc.header != "" {
					r.Header.Set("X-Amzn-Bedrock-Service-Tier", tc.header)
				}
				resp, err := srv.Client().Do(r)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var e errorBody
				dec := json.NewDecoder(resp.Body)
				if tc.want != "" {
					if got := resp.Header.Get("X-Meridian-Service-Tier"); resp.StatusCode != 200 || got != tc.want {
						dec.Decode(&e)
						t.Fatalf("%d, X-Meridian-Service-Tier %q; want 200 served as %s (%s)", resp.StatusCode, got, tc.want, e.Error.Message)
					}
					return
				}
				if resp.StatusCode != 400 || dec.Decode(&e) != nil || e.Error.Param == nil || *e.Error.Param != tc.param ||
					!strings.Contains(e.Error.Message, `"gold" is not a service tier`) {
					t.Fatalf("%d %+v; want a 400 naming %s", resp.StatusCode, e.Error, tc.param)
				}
			})
		}
	}
}
