// Package apitest serves front ends on loopback and posts to them, for the
// end-to-end tests of the API front ends: the checks every API shares
// live here, each API's error shape stays in its own package.
package apitest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// Serve serves the routes of fe (a front end's handler) on a real socket
// until the test ends.
func Serve(t testing.TB, fe interface{ Register(*http.ServeMux) }) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	fe.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// Post posts body to url as JSON with the headers given as name, value
// pairs (the API's authentication among them; they may replace
// Content-Type) and returns the response and its body.
func Post(t testing.TB, url, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, out
}

// Forwarded checks a request that is served: the answer is a 200, and the
// next body the upstream received (from got) holds each of want.
func Forwarded(t testing.TB, resp *http.Response, out []byte, got <-chan []byte, want []string) {
	t.Helper()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %.300s", resp.StatusCode, out)
	}
	sent := string(<-got)
	for _, w := range want {
		if !strings.Contains(sent, w) {
			t.Errorf("upstream received %s, lacking %s", sent, w)
		}
	}
}

// Withheld checks what every refusal shares, once its error shape is
// checked: the error body is bounded (it does not echo the request), and
// the request did not reach the upstream (nothing waits on got).
func Withheld(t testing.TB, out []byte, got <-chan []byte) {
	t.Helper()
	if len(out) > 1024 {
		t.Errorf("error body of %d bytes echoes the request: %.200s", len(out), out)
	}
	select {
	case sent := <-got:
		t.Errorf("refused request reached the upstream: %.200s", sent)
	default:
	}
}
