package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/inference/inferencetest"
)

// TestEventStreamBurstFirstEventAlone relays a burst (every event already
// here) whose events after the first are held until the client has read
// the first: the first event must reach the client over a real loopback
// socket before the relay has written the rest. Coalescing while the
// stream is Ready, unbounded, never sent it.
func TestEventStreamBurstFirstEventAlone(t *testing.T) {
	const n = 40
	ev := inference.Event{Kind: inference.EventDelta, Raw: []byte(`{"choices":[{"delta":{"content":"tok"}}]}`)}
	for _, burst := range []int{1, 2, n} {
		t.Run(fmt.Sprint(burst), func(t *testing.T) {
			s := inferencetest.NewBurstStream(ev, burst)
			defer s.Release()
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer s.Close()
				es := StartEventStream(w)
				for {
					if !es.FlushIdle(s) {
						return
					}
					ev, err := s.Recv()
					if errors.Is(err, io.EOF) {
						io.WriteString(es.W, "data: [DONE]\n\n")
						es.Flush()
						return
					}
					fmt.Fprintf(es.W, "data: %s\n\n", ev.Raw)
				}
			}))
			defer ts.Close()
			resp, err := ts.Client().Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			first := make(chan string, 1)
			go func() {
				line, _ := br.ReadString('\n')
				first <- line
			}()
			select {
			case line := <-first:
				if want := "data: " + string(ev.Raw) + "\n"; line != want {
					t.Fatalf("first line = %q, want %q", line, want)
				}
			case <-time.After(10 * time.Second): // hang guard only
				t.Fatal("the first event of the burst never reached the client: the relay waited for later events")
			}
			s.Release()
			rest, err := io.ReadAll(br)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Count(string(rest), "data: {"); got != burst-1 {
				t.Errorf("events after the first = %d, want %d", got, burst-1)
			}
			if !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
				t.Errorf("stream ends %q, want [DONE]", rest[max(0, len(rest)-20):])
			}
		})
	}
}
