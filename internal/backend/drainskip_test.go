package backend

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/detach"
)

// gatedBody is a response body whose reads wait for open (then return
// io.EOF) and whose Close is reported on closed.
type gatedBody struct {
	open   chan struct{}
	closed chan struct{}
}

func (g *gatedBody) Read([]byte) (int, error) { <-g.open; return 0, io.EOF }
func (g *gatedBody) Close() error             { close(g.closed); return nil }

// TestCloseDrainsOnlyBeforeTheBodysEnd: a stream that ended ([DONE]) with
// its body read to io.EOF is released at once by close (net/http has put
// the connection back in its pool: nothing is left to drain, and no
// goroutine is started); one whose body has not ended yet is drained in
// the background, close returning before the drain's read does.
func TestCloseDrainsOnlyBeforeTheBodysEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		readToEnd bool
	}{{"body read to its end", true}, {"body not yet ended", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := clock.NewManual(time.Unix(0, 0))
			body := &gatedBody{open: make(chan struct{}), closed: make(chan struct{})}
			var drains detach.Group
			defer drains.Close()
			ctx, cancel, letGo := detach.From(t.Context())
			b := &streamBody{ctx: ctx, cancel: cancel, detach: letGo, drains: &drains, body: body, idle: time.Minute}
			b.timer = clk.AfterFuncTimer(time.Hour, cancel)
			b.timer.Stop()
			if tc.readToEnd {
				// What the stream's reads saw: the last event, then the
				// body's end.
				b.src.r = strings.NewReader("data: [DONE]\n\n")
				b.r = bufio.NewReader(&b.src)
				if _, err := io.Copy(io.Discard, b.r); err != nil {
					t.Fatal(err)
				}
				if !b.src.end.Load() {
					t.Fatal("endReader did not record the body's end")
				}
			} else {
				b.src.r = body
				b.r = bufio.NewReader(&b.src)
			}
			b.ended.Store(true)
			b.close()
			select {
			case <-body.closed:
				if !tc.readToEnd {
					t.Fatal("a body that had not ended was closed without its drain")
				}
			default:
				if tc.readToEnd {
					t.Fatal("a body read to its end was left to a drain")
				}
				// The drain waits for the body's end, then releases it.
				close(body.open)
				<-body.closed // a drain that never releases it hangs until go test's -timeout
			}
			if ctx.Err() == nil {
				t.Error("the request's context was not released")
			}
		})
	}
}
