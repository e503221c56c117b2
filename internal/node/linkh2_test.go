package node

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"io"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/interregion"
)

// TestLinkHTTP2Settings reads the SETTINGS frame a node's link listener
// sends a peer and checks the stream limit the link client relies on:
// net/http's default of 250 made a source with more forwarded streams
// dial a connection per waiting request.
func TestLinkHTTP2Settings(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-west-1", "eu"}, {"eu-central-1", "eu"}}, "")
	p := c.peer(t, "eu-west-1", "eu-central-1")
	cfg := p.store.ClientTLSConfig("eu-central-1")
	cfg.NextProtos = []string{"h2"}
	conn, err := tls.Dial("tcp", c.nodes["eu-central-1"].LinkAddr(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second)) // a hang guard only
	if got := conn.ConnectionState().NegotiatedProtocol; got != "h2" {
		t.Fatalf("negotiated protocol = %q, want h2", got)
	}
	// The client preface and an empty SETTINGS frame (RFC 9113 §3.4).
	if _, err := io.WriteString(conn, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"); err != nil {
		t.Fatal(err)
	}
	settings := readServerSettings(t, bufio.NewReader(conn))
	want := map[uint16]uint32{
		0x3: interregion.MaxStreamsPerConn, // SETTINGS_MAX_CONCURRENT_STREAMS
		0x5: 16 << 10,                      // SETTINGS_MAX_FRAME_SIZE
	}
	for id, v := range want {
		if got, ok := settings[id]; !ok || got != v {
			t.Errorf("setting 0x%x = %d (sent: %v), want %d", id, got, ok, v)
		}
	}
}

// readServerSettings returns the parameters of the first SETTINGS frame
// (not an acknowledgement) the server sends.
func readServerSettings(t *testing.T, r *bufio.Reader) map[uint16]uint32 {
	t.Helper()
	for {
		var h [9]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			t.Fatalf("read frame header: %v", err)
		}
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			t.Fatalf("read frame: %v", err)
		}
		if h[3] != 0x4 || h[4]&0x1 != 0 { // not SETTINGS, or an ACK
			continue
		}
		m := map[uint16]uint32{}
		for i := 0; i+6 <= len(payload); i += 6 {
			m[binary.BigEndian.Uint16(payload[i:])] = binary.BigEndian.Uint32(payload[i+2:])
		}
		return m
	}
}
