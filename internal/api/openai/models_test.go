package openai

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// TestGetModel: GET /v1/models/{id} returns the model entry for a callable
// profile or deployed model, and a 404 in OpenAI's error shape otherwise.
func TestGetModel(t *testing.T) {
	t.Parallel()
	srv := newServer(t, &fakeBackend{})
	tests := []struct {
		id     string
		key    string
		status int
		code   string
	}{
		{"eu.m", testKey, 200, ""},
		{"m", testKey, 200, ""},
		{"eu.unknown", testKey, 404, "model_not_found"},
		{"arn:aws:bedrock:eu-west-1:111122223333:inference-profile/nope", testKey, 404, "model_not_found"},
		{"eu.m", "", 401, "invalid_api_key"},
	}
	for _, tc := range tests {
		r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v1/models/"+tc.id, nil)
		if tc.key != "" {
			r.Header.Set("Authorization", "Bearer "+tc.key)
		}
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.id, resp.StatusCode, tc.status, b)
			continue
		}
		if tc.status == 200 {
			var m modelEntry
			if err := json.Unmarshal(b, &m); err != nil || m.ID != tc.id || m.Object != "model" {
				t.Errorf("%s: body %s", tc.id, b)
			}
			continue
		}
		var e errorBody
		if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == nil || *e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s: error body %s, want code %s", tc.id, b, tc.code)
		}
	}
}
