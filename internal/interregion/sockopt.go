package interregion

import (
	"net"
	"syscall"
	"time"
)

// A link connection must notice a peer that went silent without closing
// it (a cut cable, a dropped NAT entry, a frozen host): the destination
// stops its upstream call only when the connection to the source ends,
// and a stream's small frames never fill the send buffer that would make
// a write fail. HTTP/2 lanes ping; a pooled HTTP/1.1 connection has only
// TCP. So every link socket, accepted or dialled, probes an idle peer
// (linkKeepAlive: dropped after 15 s of silence and two unanswered probes
// 5 s apart) and bounds how long written data may stay unacknowledged
// (linkUserTimeout, where the platform has TCP_USER_TIMEOUT): either way a
// dead peer's connection is closed within about half a minute instead of
// the kernel's retransmission limit (about 15 minutes on Linux).
var linkKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 2}

// linkUserTimeout is the TCP_USER_TIMEOUT of link sockets.
const linkUserTimeout = 25 * time.Second

// Listener returns ln with every accepted TCP connection set up for the
// link (keep-alive probes and the user time-out above).
func Listener(ln net.Listener) net.Listener { return linkListener{ln} }

type linkListener struct{ net.Listener }

func (l linkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		// Best effort: a socket that refuses an option still serves.
		_ = tc.SetKeepAliveConfig(linkKeepAlive)
		if rc, err := tc.SyscallConn(); err == nil {
			_ = controlLinkSocket("", "", rc)
		}
	}
	return c, nil
}

// linkDialer dials link connections' TCP connections; ConnectTimeout is
// enforced on the client's clock (connectWithin), not here.
var linkDialer = &net.Dialer{KeepAliveConfig: linkKeepAlive, Control: controlLinkSocket}

// controlLinkSocket sets the user time-out on a link socket; its errors
// are ignored by Accept and fail a dial (a platform without the option
// sets nothing).
func controlLinkSocket(_, _ string, rc syscall.RawConn) error {
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = setUserTimeout(fd, linkUserTimeout) }); err != nil {
		return err
	}
	return serr
}
