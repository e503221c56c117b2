package openai

import (
	"bufio"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference/inferencetest"
)

// TestStreamFlushesBeforeWaiting: the front end writes a stream's events
// as they come and flushes before a Recv that may wait. Events that are
// already here leave together, in one flush, as a proxy copying bytes
// sends them; an event is never held back waiting for the next: each
// reaches the client while the stream has nothing more to give.
func TestStreamFlushesBeforeWaiting(t *testing.T) {
	t.Parallel()
	apis := []struct {
		path, body string
		// word is how a delta's text shows in the API's events.
		word func(w string) string
	}{
		{"/v1/chat/completions", `{"model":"eu.m","stream":true,` + hello + `}`, func(w string) string { return `"content":"` + w + `"` }},
		{"/v1/responses", `{"model":"eu.m","stream":true,"input":"hello"}`, func(w string) string { return `"delta":"` + w + `"` }},
	}
	for _, api := range apis {
		t.Run(strings.TrimPrefix(api.path, "/v1/")+"/together", func(t *testing.T) {
			t.Parallel()
			var flushes atomic.Int64
			events := inferencetest.AllHere()
			srv := newServerWrapped(t, &inferencetest.ChanBackend{Events: events}, nil, func(h http.Handler) http.Handler {
				return inferencetest.CountFlushes(h, &flushes)
			})
			resp, body := postWith(t, srv, api.path, testKey, api.body)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d, body %q", resp.StatusCode, body)
			}
			for _, w := range []string{"a", "b", "c"} {
				if !strings.Contains(string(body), api.word(w)) {
					t.Fatalf("body %q lacks %s", body, api.word(w))
				}
			}
			// One flush when the channel runs dry (the stream's end is not
			// Ready), one after the stream's last event.
			if got := flushes.Load(); got > 2 {
				t.Errorf("five events that were all here took %d flushes, want at most 2", got)
			}
		})
		t.Run(strings.TrimPrefix(api.path, "/v1/")+"/one by one", func(t *testing.T) {
			t.Parallel()
			events := make(inferencetest.ChanStream, 8)
			ls := inferencetest.NewLockstep(events, []string{"w0", "w1", "w2", "w3"}, api.word)
			srv := newServerWith(t, &inferencetest.ChanBackend{Events: events})
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+api.path, strings.NewReader(api.body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				ls.Seen(sc.Text())
			}
			if seen, all := ls.Done(); !all {
				t.Errorf("the client saw %d words, not all", seen)
			}
		})
	}
}
