package envelope

import (
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
)

// TestMACHeaderLengthLimit: the MAC header's value is a SHA-256 sum in
// base64url without padding, 43 characters (docs/security.md, "The signed
// envelope"). One longer is refused for its length, with an error that
// names the limit the check applies; one shorter, or of 43 characters
// that are not a canonical encoding of 32 bytes, is refused as not a MAC.
func TestMACHeaderLengthLimit(t *testing.T) {
	t.Parallel()
	const limit = 43
	for _, tc := range []struct {
		name    string
		value   string
		wantErr string // "" for none
	}{
		{"43 characters", strings.Repeat("A", 43), ""},
		{"42 characters", strings.Repeat("A", 42), "mac header"},
		{"44 characters", strings.Repeat("A", 44), fmt.Sprintf("mac header is 44 bytes, limit %d", limit)},
		{"44 characters, padded", strings.Repeat("A", 43) + "=", fmt.Sprintf("mac header is 44 bytes, limit %d", limit)},
		{"64 characters", strings.Repeat("A", 64), fmt.Sprintf("mac header is 64 bytes, limit %d", limit)},
		{"65 characters", strings.Repeat("A", 65), fmt.Sprintf("mac header is 65 bytes, limit %d", limit)},
		{"4 KiB", strings.Repeat("A", 4096), fmt.Sprintf("mac header is 4096 bytes, limit %d", limit)},
		{"43 characters, padding bits set", strings.Repeat("A", 42) + "B", "mac header"},
		{"empty", "", "mac header is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got [sha256.Size]byte
			n, err := decodeMACHeader(got[:], tc.value)
			switch {
			case tc.wantErr == "" && (err != nil || n != len(got)):
				t.Errorf("decodeMACHeader(%.50q) = %d, %v; want %d bytes", tc.value, n, err, len(got))
			case tc.wantErr != "" && err == nil && n == len(got):
				t.Errorf("decodeMACHeader(%.50q) accepted %d bytes, want an error %q", tc.value, n, tc.wantErr)
			case tc.wantErr != "" && err != nil && !strings.HasPrefix(err.Error(), tc.wantErr):
				t.Errorf("decodeMACHeader(%.50q) = %v, want %q", tc.value, err, tc.wantErr)
			}
		})
	}
}
