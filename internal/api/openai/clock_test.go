package openai

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// TestCreatedIsTheClocks: a chat completion the front end writes, whole or
// streamed, says created in its clock's time, not the wall clock's.
func TestCreatedIsTheClocks(t *testing.T) {
	t.Parallel()
	at := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	srv := newServerClock(t, &fakeBackend{}, clock.NewManual(at))
	for _, stream := range []bool{false, true} {
		body := `{"model":"eu.m","stream":` + strconv.FormatBool(stream) + `,` + hello + `}`
		resp, b := post(t, srv, testKey, body)
		if resp.StatusCode != 200 {
			t.Fatalf("stream %v: %d %s", stream, resp.StatusCode, b)
		}
		doc := string(b)
		if stream { // the first chunk
			doc, _, _ = strings.Cut(strings.TrimPrefix(doc, "data: "), "\n")
		}
		var got struct {
			Created int64 `json:"created"`
		}
		if err := json.Unmarshal([]byte(doc), &got); err != nil {
			t.Fatalf("stream %v: decode %q: %v", stream, doc, err)
		}
		if got.Created != at.Unix() {
			t.Errorf("stream %v: created = %d, want %d (the front end's clock)", stream, got.Created, at.Unix())
		}
	}
}
