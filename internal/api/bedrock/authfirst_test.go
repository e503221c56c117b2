package bedrock_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
)

// countingListener counts the bytes the server reads from its connections.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{c, l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// rawRequest sends head and then body (all of it, or only the first KiB
// when stall is set, holding the connection open), and returns the
// response the server sent.
func rawRequest(t *testing.T, addr, head string, bodyLen int, stall bool) (*http.Response, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(20 * time.Second)) // hang guard
	if _, err := io.WriteString(conn, head); err != nil {
		return nil, err
	}
	send := bodyLen
	if stall {
		send = min(bodyLen, 1024)
	}
	go func() {
		chunk := []byte(strings.Repeat("a", 32<<10))
		for sent := 0; sent < send; sent += len(chunk) {
			if _, err := conn.Write(chunk[:min(len(chunk), send-sent)]); err != nil {
				return // the server refused and closed: expected
			}
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	return resp, nil
}

// sigV4Head returns the header block of a request signed by the SDK's
// signer with secret, for a body of bodyLen bytes. edit changes the signed
// request before it is rendered.
func sigV4Head(t *testing.T, host, akid, secret string, at time.Time, bodyLen int, edit func(*http.Request)) string {
	t.Helper()
	body := strings.Repeat("a", bodyLen)
	req, _ := http.NewRequest("POST", "http://"+host+"/model/eu.demo.chat-small/converse", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "bedrock", "eu-west-1", at); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "POST /model/eu.demo.chat-small/converse HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", host, bodyLen)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// TestUnauthenticatedBodyNotRead: a request that cannot authenticate is
// refused in Bedrock's error shape from its headers alone. Its body is not
// read (the server reads a few KiB of each connection, not 4 MiB), and a
// client that stalls mid-body gets its answer at once instead of holding
// the connection.
func TestUnauthenticatedBodyNotRead(t *testing.T) {
	var read atomic.Int64
	c := startClusterWith(t, euRegions[:1], "", "", func(c *cluster) {
		c.wrap = func(l net.Listener) net.Listener { return countingListener{l, &read} }
	})
	addr := c.nodes["eu-west-1"].ClientAddr()
	const bodyLen = 4 << 20
	plain := func(extra string) string {
		return fmt.Sprintf("POST /model/eu.demo.chat-small/converse HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n", addr, bodyLen, extra)
	}
	now := time.Now()
	tests := []struct {
		name     string
		head     string
		wantType string
	}{
		{"no credentials", plain(""), "MissingAuthenticationTokenException"},
		{"wrong API key", plain("Authorization: Bearer mk-wrong\r\n"), "UnrecognizedClientException"},
		{"unknown access key", sigV4Head(t, addr, "AKIDUNKNOWN", testSecret, now, bodyLen, nil), "UnrecognizedClientException"},
		{"clock skew", sigV4Head(t, addr, testAKID, testSecret, now.Add(-time.Hour), bodyLen, nil), "AccessDeniedException"},
		{"malformed signature", sigV4Head(t, addr, testAKID, testSecret, now, bodyLen, func(r *http.Request) {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:strings.Index(h, "Signature=")]+"Signature=nothex")
		}), "AccessDeniedException"},
		{"wrong secret with a signed payload hash", sigV4Head(t, addr, testAKID, "wrong-secret", now, bodyLen, func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
		}), "AccessDeniedException"},
	}
	const perConn = 64 << 10 // headers and one buffer of the body at most
	for _, stall := range []bool{false, true} {
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s stall=%v", tc.name, stall), func(t *testing.T) {
				before := read.Load()
				resp, err := rawRequest(t, addr, tc.head, bodyLen, stall)
				if err != nil {
					t.Fatalf("no response: %v", err)
				}
				if resp.StatusCode != 401 && resp.StatusCode != 403 {
					t.Errorf("status = %d, want 401 or 403", resp.StatusCode)
				}
				if got := resp.Header.Get("X-Amzn-Errortype"); got != tc.wantType {
					t.Errorf("x-amzn-ErrorType = %q, want %q", got, tc.wantType)
				}
				if n := read.Load() - before; n > perConn {
					t.Errorf("server read %d bytes of an unauthenticated request, want at most %d", n, perConn)
				}
			})
		}
	}

	// 40 unauthenticated 4 MiB bodies at once: the server reads none of them.
	before := read.Load()
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if resp, err := rawRequest(t, addr, plain("Authorization: Bearer mk-wrong\r\n"), bodyLen, false); err != nil || resp.StatusCode != 401 {
				t.Errorf("concurrent unauthenticated request: %v %v", resp, err)
			}
		})
	}
	wg.Wait()
	if n := read.Load() - before; n > 40*perConn {
		t.Errorf("server read %d bytes of 40 unauthenticated 4 MiB requests, want at most %d", n, 40*perConn)
	}
	// An authenticated caller is still served.
	if _, err := c.runtimeClient("eu-west-1").Converse(t.Context(), converseInput("still served")); err != nil {
		t.Errorf("authenticated Converse after the flood: %v", err)
	}
}

func converseInput(text string) *bedrockruntime.ConverseInput {
	return &bedrockruntime.ConverseInput{ModelId: aws.String("eu.demo.chat-small"), Messages: userMessage(text)}
}
