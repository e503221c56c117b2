package envelope

import (
	"bytes"
	"strings"
	"testing"
)

// TestMACMatchesCryptoHMAC: mac computes what crypto/hmac computes, for
// payloads on either side of the stack buffer's bound.
func TestMACMatchesCryptoHMAC(t *testing.T) {
	t.Parallel()
	var k SessionKey
	for i := range k {
		k[i] = byte(0xa0 + i)
	}
	bound := macScratch - 64 - len(macContext)
	for _, n := range []int{0, 1, 55, 56, 64, 600, bound - 1, bound, bound + 1, 4096} {
		payload := []byte(strings.Repeat("x", n))
		prefix := []byte("prefix")
		got := mac(&k, payload, bytes.Clone(prefix))
		want := macHMAC(&k, payload, bytes.Clone(prefix))
		if !bytes.Equal(got, want) {
			t.Errorf("payload of %d bytes: mac %x, crypto/hmac %x", n, got, want)
		}
	}
}

// FuzzMACMatchesCryptoHMAC holds mac to crypto/hmac on arbitrary keys and
// payloads.
func FuzzMACMatchesCryptoHMAC(f *testing.F) {
	f.Add([]byte("key"), []byte(`{"v":4}`))
	f.Add(bytes.Repeat([]byte{0xff}, 32), bytes.Repeat([]byte("y"), macScratch))
	f.Fuzz(func(t *testing.T, key, payload []byte) {
		var k SessionKey
		copy(k[:], key)
		if got, want := mac(&k, payload, nil), macHMAC(&k, payload, nil); !bytes.Equal(got, want) {
			t.Fatalf("key %x, payload %q: mac %x, crypto/hmac %x", k, payload, got, want)
		}
	})
}
