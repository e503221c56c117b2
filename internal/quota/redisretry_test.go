package quota

import (
	"bufio"
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hungRedis accepts connections and answers the handshake, but never the
// scripts: a server that stopped (SIGSTOP) after the client connected. It
// counts the scripts it was sent.
type hungRedis struct {
	ln      net.Listener
	scripts atomic.Int64
	mu      sync.Mutex
	conns   []net.Conn
}

func startHungRedis(t *testing.T) *hungRedis {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &hungRedis{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, c)
			h.mu.Unlock()
			go h.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, c := range h.conns {
			c.Close()
		}
	})
	return h
}

// serve reads RESP commands: HELLO is refused (the client falls back to
// RESP2), other handshake commands get +OK, scripts are counted and left
// unanswered.
func (h *hungRedis) serve(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if !strings.HasPrefix(line, "*") {
			continue
		}
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		var args []string
		for range n {
			if _, err := r.ReadString('\n'); err != nil { // $len
				return
			}
			a, err := r.ReadString('\n')
			if err != nil {
				return
			}
			args = append(args, strings.TrimSpace(a))
		}
		if len(args) == 0 {
			continue
		}
		switch strings.ToUpper(args[0]) {
		case "HELLO":
			c.Write([]byte("-ERR unknown command 'HELLO'\r\n"))
		case "EVALSHA", "EVAL":
			h.scripts.Add(1)
		default:
			c.Write([]byte("+OK\r\n"))
		}
	}
}

// TestHungStoreOneAttempt: an admission against a store that stopped
// answering sends its script once and fails at the first read time-out:
// go-redis's own retries (which would hold the request for several
// time-outs, and could run a reservation twice) are off unless the URL
// asks for them.
func TestHungStoreOneAttempt(t *testing.T) {
	for _, tc := range []struct {
		query string
		sent  int64
	}{{"", 1}, {"&max_retries=1", 2}} {
		h := startHungRedis(t)
		// A short read time-out: the test waits for it to pass (once per
		// attempt), it asserts nothing about durations.
		l, err := Open(Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://" + h.ln.Addr().String() + "/0?read_timeout=50ms&min_retry_backoff=1ms&max_retry_backoff=2ms" + tc.query}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
		_, err = l.Admit(ctx, Request{Principal: "alice", Limits: Limits{RPM: 5}})
		cancel()
		l.Close()
		if err == nil {
			t.Fatalf("%q: Admit against a hung store = nil, want an error", tc.query)
		}
		if got := h.scripts.Load(); got != tc.sent {
			t.Errorf("%q: the store was sent %d scripts, want %d", tc.query, got, tc.sent)
		}
	}
}
