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

// TestEventStreamBurstBounded relays a burst (every event already
// here) whose events after the first inference.BurstMaxEvents are held
// until the client has read the first: the first event must reach the
// client over a real loopback socket before the relay has written the
// rest. Coalescing while the stream is Ready, unbounded, never sent it.
func TestEventStreamBurstBounded(t *testing.T) {
	const n = 40
	ev := inference.Event{Kind: inference.EventDelta, Raw: []byte(`{"choices":[{"delta":{"content":"tok"}}]}`)}
	for _, burst := range []int{1, inference.BurstMaxEvents, inference.BurstMaxEvents + 1, n} {
		t.Run(fmt.Sprint(burst), func(t *testing.T) {
			s := inferencetest.NewBurstStream(ev, burst, inference.BurstMaxEvents)
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
			defer s.Release() // before ts.Close, which waits for the handler
			// The headers too leave with the first flush: the hang guard
			// covers the request as well as the first line.
			type firstLine struct {
				br   *bufio.Reader
				line string
				err  error
			}
			first := make(chan firstLine, 1)
			go func() {
				resp, err := ts.Client().Get(ts.URL)
				if err != nil {
					first <- firstLine{err: err}
					return
				}
				t.Cleanup(func() { resp.Body.Close() })
				br := bufio.NewReader(resp.Body)
				line, err := br.ReadString('\n')
				first <- firstLine{br, line, err}
			}()
			var br *bufio.Reader
			select {
			case f := <-first:
				if f.err != nil {
					t.Fatal(f.err)
				}
				if want := "data: " + string(ev.Raw) + "\n"; f.line != want {
					t.Fatalf("first line = %q, want %q", f.line, want)
				}
				br = f.br
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
