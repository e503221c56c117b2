package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestReadBody: a body is read whole whatever its declared length says,
// refused past the limit (413) and when it ends before its declared length
// (400), whether read into a buffer of its declared length or not; the
// 413's message names the setting that raises the limit.
func TestReadBody(t *testing.T) {
	const limit = 16
	for _, tc := range []struct {
		name     string
		body     string
		declared int64 // -1: unknown
		want     string
		fails    bool
		kind     inference.ErrorKind
	}{
		{"declared", `{"a":1}`, 7, `{"a":1}`, false, 0},
		{"empty", ``, 0, ``, false, 0},
		{"unknown length", `{"a":1}`, -1, `{"a":1}`, false, 0},
		{"at the limit", strings.Repeat("x", limit), limit, strings.Repeat("x", limit), false, 0},
		{"declared past the limit", strings.Repeat("x", limit+1), limit + 1, "", true, inference.KindPayloadTooLarge},
		{"unknown length past the limit", strings.Repeat("x", limit+1), -1, "", true, inference.KindPayloadTooLarge},
		{"shorter than declared", `{"a"`, 7, "", true, inference.KindInvalidRequest},
		{"nothing of what was declared", ``, 7, "", true, inference.KindInvalidRequest},
		{"longer than declared", `{"a":12345}`, 7, `{"a":12345}`, false, 0},
		{"longer than declared, past the limit", strings.Repeat("x", limit+1), 7, "", true, inference.KindPayloadTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", io.NopCloser(strings.NewReader(tc.body)))
			r.ContentLength = tc.declared
			got, err := ReadBody(httptest.NewRecorder(), r, limit)
			switch {
			case tc.fails && (err == nil || err.Kind != tc.kind):
				t.Errorf("ReadBody = %q, %v; want a %s error", got, err, tc.kind)
			case !tc.fails && (err != nil || string(got) != tc.want):
				t.Errorf("ReadBody = %q, %v; want %q", got, err, tc.want)
			case tc.kind == inference.KindPayloadTooLarge && err.Message != "request body exceeds 16 bytes (the node's server.max_request_bytes)":
				t.Errorf("message %q, want the limit and the setting that raises it", err.Message)
			}
		})
	}
}

// TestReadBodyAllocs pins a declared body's read at its buffer (io.ReadAll
// under a MaxBytesReader made four for this body: the reader, a 512-byte
// buffer, and larger ones as it grew past 512 bytes).
func TestReadBodyAllocs(t *testing.T) {
	body := strings.Repeat("x", 600)
	sr := strings.NewReader(body)
	r := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", nil)
	r.Body, r.ContentLength = io.NopCloser(sr), int64(len(body))
	w := httptest.NewRecorder()
	if n := testing.AllocsPerRun(100, func() {
		sr.Reset(body)
		if b, err := ReadBody(w, r, 1<<20); err != nil || len(b) != len(body) {
			t.Fatalf("ReadBody: %d bytes, %v", len(b), err)
		}
	}); n != 1 {
		t.Errorf("ReadBody: %v allocations, want 1", n)
	}
}
