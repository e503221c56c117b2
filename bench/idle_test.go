package bench

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestCloseIdleEndsEveryConnection checks that closeIdle closes the idle
// connections an overloaded step leaves behind, on both ends: the client's
// pool and the server's side of each connection (the goroutines and
// buffers that every later step's collection cycles would scan), and calls
// the proxy's hook.
func TestCloseIdleEndsEveryConnection(t *testing.T) {
	const conns = 8
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	closed := make(chan struct{}, 64)
	// Every request waits until all have arrived, so that each holds a
	// connection of its own.
	arrived := make(chan struct{}, conns)
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Write([]byte(`{}`))
	}))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open[c] = true
		case http.StateClosed, http.StateHijacked:
			if open[c] {
				delete(open, c)
				closed <- struct{}{}
			}
		}
	}
	srv.Start()
	defer srv.Close()
	tg := newTarget("t", srv.URL, "", 64, time.Minute)
	defer tg.close()
	var wg sync.WaitGroup
	for range conns {
		wg.Go(func() {
			if s := tg.do(context.Background(), []byte(`{}`), false, time.Now()); s.err != nil {
				t.Error(s.err)
			}
		})
	}
	guard := time.After(time.Minute) // hang guard only: a request that fails never arrives
	for i := range conns {
		select {
		case <-arrived:
		case <-guard:
			t.Fatalf("%d of %d requests reached the server", i, conns)
		}
	}
	close(release)
	wg.Wait()
	mu.Lock()
	n := len(open)
	mu.Unlock()
	if n != conns {
		t.Fatalf("%d connections open before closeIdle, want %d", n, conns)
	}
	proxied := false
	closeIdle([]*Target{tg}, func() { proxied = true })
	if !proxied {
		t.Error("closeIdle did not close the proxy's pool")
	}
	for i := range conns {
		select {
		case <-closed:
		case <-guard:
			t.Fatalf("the server saw %d of %d connections close", i, conns)
		}
	}
}
