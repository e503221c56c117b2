package interregion

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// userTimeout reads TCP_USER_TIMEOUT back from c.
func userTimeout(t *testing.T, c net.Conn) time.Duration {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ms int
	var gerr error
	if err := rc.Control(func(fd uintptr) { ms, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return time.Duration(ms) * time.Millisecond
}

// TestLinkSocketsNoticeSilentPeers: both ends of a link connection bound
// how long written data may stay unacknowledged, so that a peer that went
// silent without closing is dropped in about half a minute (a pooled
// HTTP/1.1 connection has no ping), and the destination's upstream call
// ends with it.
func TestLinkSocketsNoticeSilentPeers(t *testing.T) {
	t.Parallel()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listener(raw)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	dialled, err := linkDialer.DialContext(context.Background(), "tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer dialled.Close()
	c, ok := <-accepted
	if !ok {
		t.Fatal("nothing accepted")
	}
	defer c.Close()
	for name, conn := range map[string]net.Conn{"accepted": c, "dialled": dialled} {
		if got := userTimeout(t, conn); got != linkUserTimeout {
			t.Errorf("%s: TCP_USER_TIMEOUT %v, want %v", name, got, linkUserTimeout)
		}
	}
}
