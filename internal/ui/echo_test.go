package ui_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/ui"
)

// TestErrorsDoNotEchoUnboundedInput: the console API's errors quote a
// bounded prefix of a request id, region or action, never all of it.
func TestErrorsDoNotEchoUnboundedInput(t *testing.T) {
	t.Parallel()
	srv := newServer(t, ui.Options{Demo: &fakeDemo{actions: map[string]ui.Action{"eu-west-1": ui.ActionRestore}}})
	long := strings.Repeat("x", 3000)
	tests := []struct{ name, method, path, body string }{
		{"request id", "GET", "/meridian/v1/requests/" + long, ""},
		{"region", "POST", "/meridian/v1/demo/regions/" + long, `{"action":"down"}`},
		{"action", "POST", "/meridian/v1/demo/regions/eu-west-1", `{"action":"` + long + `"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer operator-key")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Fatalf("%s %s = %d, want an error", tc.method, tc.name, resp.StatusCode)
			}
			if strings.Contains(string(b), strings.Repeat("x", 300)) {
				t.Errorf("%s %s error echoes the input: %.200s…", tc.method, tc.name, b)
			}
		})
	}
}
