package openai

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/meridian-gateway/meridian/internal/gateway/gatewaytest"
	"github.com/meridian-gateway/meridian/internal/inference/inferencetest"
)

// TestStreamEndOneWrite: a Chat Completions stream's [DONE] and the
// body's end (HTTP/1.1's last chunk) reach the connection in one write,
// not a write for [DONE] and another for the end.
func TestStreamEndOneWrite(t *testing.T) {
	t.Parallel()
	g := gatewaytest.OneRegion(t, testKey, &inferencetest.ChanBackend{Events: inferencetest.AllHere()})
	mux := http.NewServeMux()
	New(g, Options{MaxRequestBytes: 8 << 20}).Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	log := &writeLog{}
	srv.Listener = &logListener{Listener: srv.Listener, log: log}
	srv.Start()
	t.Cleanup(srv.Close)
	resp, body := post(t, srv, testKey, `{"model":"eu.m","stream":true,`+hello+`}`)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "data: [DONE]") {
		t.Fatalf("status %d, body %q", resp.StatusCode, body)
	}
	var done [][]byte
	for _, w := range log.all() {
		if bytes.Contains(w, []byte("data: [DONE]")) {
			done = append(done, w)
		}
	}
	if len(done) != 1 || !bytes.HasSuffix(done[0], []byte("\r\n0\r\n\r\n")) {
		t.Errorf("the writes with [DONE] are %q, want one that ends the body too", done)
	}
}

// writeLog records what the server writes to its connections.
type writeLog struct {
	mu     sync.Mutex
	writes [][]byte
}

func (l *writeLog) all() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.writes
}

type logListener struct {
	net.Listener
	log *writeLog
}

func (l *logListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return logConn{c, l.log}, nil
}

type logConn struct {
	net.Conn
	log *writeLog
}

func (c logConn) Write(p []byte) (int, error) {
	c.log.mu.Lock()
	c.log.writes = append(c.log.writes, bytes.Clone(p))
	c.log.mu.Unlock()
	return c.Conn.Write(p)
}
