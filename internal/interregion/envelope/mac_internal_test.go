package envelope

import (
	"bytes"
	"crypto/x509"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

// TestKeyedMACMatchesMAC: the MAC made with a ConnKey's reused states is
// crypto/hmac's MAC of a fresh state, for payloads around the block size,
// on first use, on reuse, and from goroutines sharing one key at once.
func TestKeyedMACMatchesMAC(t *testing.T) {
	var k SessionKey
	for i := range k {
		k[i] = byte(i*7 + 1)
	}
	var m keyedMAC
	m.key = k
	// Around the 64-byte block, with and without the 30 bytes of
	// macContext, and an envelope's size and more.
	var payloads [][]byte
	for _, n := range []int{0, 1, 33, 34, 63, 64, 65, 119, 120, 700, 5000} {
		payloads = append(payloads, bytes.Repeat([]byte{byte(n)}, n))
	}
	for _, p := range payloads {
		want := mac(&k, p, nil)
		for use := range 3 {
			if got := m.sum(p); !bytes.Equal(got[:], want) {
				t.Fatalf("%d bytes, use %d: keyed MAC %x, crypto/hmac %x", len(p), use, got, want)
			}
		}
	}

	var wg sync.WaitGroup
	for g := range 2 * maxFreeMACStates {
		wg.Go(func() {
			for i := range 200 {
				p := payloads[(g+i)%len(payloads)]
				if got, want := m.sum(p), mac(&k, p, nil); !bytes.Equal(got[:], want) {
					t.Errorf("goroutine %d: keyed MAC %x, crypto/hmac %x", g, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(m.free); n > maxFreeMACStates {
		t.Errorf("%d states kept after the goroutines, want at most %d", n, maxFreeMACStates)
	}

	// Another key gives another MAC: the states are keyed with their own.
	var other keyedMAC
	other.key = k
	other.key[0] ^= 1
	if other.sum(nil) == m.sum(nil) {
		t.Fatal("two keys give the same MAC")
	}
}

// TestPlainString holds plainString's eight-byte scan to the byte loop it
// replaced: every byte value at every position of strings of 0 to 24
// bytes, within plain printable ASCII.
func TestPlainString(t *testing.T) {
	ref := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 || c == '\\' || c == '"' || c >= utf8.RuneSelf {
				return false
			}
		}
		return true
	}
	for n := range 25 {
		if !plainString(bytes.Repeat([]byte{'a'}, n)) {
			t.Fatalf("plainString(%d × 'a') = false", n)
		}
		for pos := range n {
			for c := range 256 {
				for _, fill := range []byte{' ', '!', '#', '[', ']', '~', 0x1f + 1} {
					b := bytes.Repeat([]byte{fill}, n)
					b[pos] = byte(c)
					if got, want := plainString(b), ref(b); got != want {
						t.Fatalf("plainString(%q) = %v, want %v", b, got, want)
					}
				}
			}
		}
	}
}

// FuzzPlainString: plainString agrees with the byte loop on any input.
func FuzzPlainString(f *testing.F) {
	f.Add([]byte("eu-west-1"))
	f.Add([]byte("arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.x\\"))
	f.Add([]byte("\x7f\x80\x1f\"abcdefgh"))
	f.Fuzz(func(t *testing.T, b []byte) {
		want := true
		for _, c := range b {
			if c < 0x20 || c == '\\' || c == '"' || c >= utf8.RuneSelf {
				want = false
			}
		}
		if got := plainString(b); got != want {
			t.Fatalf("plainString(%q) = %v, want %v", b, got, want)
		}
	})
}

// TestConnKeyIdentity: a ConnKey reads its connection's peer identity
// once, and gives any other certificate (which it is never meant to be
// given) that certificate's own identity, never the one it kept.
func TestConnKeyIdentity(t *testing.T) {
	f := pkitest.New(t, "")
	west := f.Store(t, "eu-west-1").Certificate().Leaf
	east := f.Store(t, "us-east-1").Certificate().Leaf
	var ck ConnKey
	for i, tc := range []struct {
		cert *x509.Certificate
		want string
	}{{west, "eu-west-1"}, {west, "eu-west-1"}, {east, "us-east-1"}, {west, "eu-west-1"}} {
		id, err := ck.identity(tc.cert)
		if err != nil || id.Region != tc.want {
			t.Fatalf("call %d: identity = %v, %v; want region %s", i, id, err, tc.want)
		}
	}
	// A certificate without a SPIFFE identity is refused every time.
	var none ConnKey
	for i := range 2 {
		if _, err := none.identity(&x509.Certificate{}); err == nil {
			t.Fatalf("call %d: identity of a certificate without a SPIFFE URI: no error", i)
		}
	}
}

// TestPayloadBufferHoldsLongestHeader: the longest envelope header
// allowed decodes into a payloadBuffer (base64's Decode would panic on a
// shorter one).
func TestPayloadBufferHoldsLongestHeader(t *testing.T) {
	var buf payloadBuffer
	if n := rawURLStrict.DecodedLen(maxEnvelopeHeader); n > len(buf) {
		t.Fatalf("a header of %d bytes decodes to %d, the buffer holds %d", maxEnvelopeHeader, n, len(buf))
	}
	header := strings.Repeat("A", maxEnvelopeHeader)
	if _, err := decodePayload(&buf, header); err != nil {
		t.Fatalf("decode the longest header: %v", err)
	}
	if _, err := decodePayload(&buf, header+"AAAA"); err == nil {
		t.Fatal("a header beyond the limit decoded")
	}
}
