package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// failingBody fails the test if anything reads it: Check must decide from
// headers alone.
type failingBody struct{ t *testing.T }

func (b failingBody) Read([]byte) (int, error) {
	b.t.Error("Check read the request body")
	return 0, io.EOF
}
func (b failingBody) Close() error { return nil }

// TestSigV4CheckBeforeBody: every check that needs no body runs before the
// body is read, and a request that signs X-Amz-Content-Sha256 is fully
// authenticated then.
func TestSigV4CheckBeforeBody(t *testing.T) {
	t.Parallel()
	v := newTestSigV4(t, nil)
	body := []byte(`{"messages":[]}`)
	sum := sha256.Sum256(body)
	withHash := func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:])) }
	tests := []struct {
		name       string
		at         time.Time
		region     string
		edit       func(*http.Request)
		signHash   bool // sign X-Amz-Content-Sha256 as the SDK's S3 clients do
		wantErr    error
		wantSigned bool
	}{
		{name: "body hash not in a header: decided after the body", at: sigNow, region: "eu-west-1"},
		{name: "signed content hash header: authenticated before the body", at: sigNow, region: "eu-west-1", signHash: true, wantSigned: true},
		{name: "unknown access key", at: sigNow, region: "eu-west-1", wantErr: ErrSigV4UnknownKey, edit: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAKID, "AKIDOTHER", 1))
		}},
		{name: "skew", at: sigNow.Add(-time.Hour), region: "eu-west-1", wantErr: ErrSigV4Skew},
		{name: "scope", at: sigNow, region: "us-east-1", wantErr: ErrSigV4Scope},
		{name: "signature not hex", at: sigNow, region: "eu-west-1", wantErr: ErrSigV4Malformed, edit: func(r *http.Request) {
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:strings.Index(h, "Signature=")]+"Signature=zz")
		}},
		{name: "signature upper-case", at: sigNow, region: "eu-west-1", wantErr: ErrSigV4Malformed, edit: func(r *http.Request) {
			h := r.Header.Get("Authorization")
			i := strings.Index(h, "Signature=") + len("Signature=")
			r.Header.Set("Authorization", h[:i]+strings.ToUpper(h[i:]))
		}},
		{name: "content hash not hex", at: sigNow, region: "eu-west-1", wantErr: ErrSigV4Malformed, edit: func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", "beef")
		}},
		{name: "forged content hash header", at: sigNow, region: "eu-west-1", wantErr: ErrSigV4Mismatch, edit: func(r *http.Request) {
			r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("a", 64))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			edit := tc.edit
			var r *http.Request
			if tc.signHash {
				r = signedWithHeader(t, body, tc.at, withHash)
			} else {
				r = signed(t, "POST", "/model/x/converse", body, tc.region, tc.at, testSecret, edit)
			}
			r.Body = failingBody{t}
			c, err := v.Check(r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Check = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if c.Signed() != tc.wantSigned {
				t.Errorf("Signed() = %v, want %v", c.Signed(), tc.wantSigned)
			}
			if p, err := c.Verify(body); err != nil || p.ID != "alice" {
				t.Errorf("Verify(body) = %+v, %v; want alice", p, err)
			}
			if _, err := c.Verify([]byte(`{"messages":[{}]}`)); !errors.Is(err, ErrSigV4Mismatch) {
				t.Errorf("Verify(other body) = %v, want %v", err, ErrSigV4Mismatch)
			}
		})
	}
}

// signedWithHeader signs a request whose X-Amz-Content-Sha256 header is
// set before signing, so that the header is among the signed ones.
func signedWithHeader(t *testing.T, body []byte, at time.Time, set func(*http.Request)) *http.Request {
	t.Helper()
	return signed(t, "POST", "/model/x/converse", body, "eu-west-1", at, testSecret, nil, set)
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"0123456789abcdef", 10, "0123456789…(+6 bytes)"},
		{"ééééé", 3, "é…(+8 bytes)"},
		{"x", 0, "…(+1 bytes)"},
	} {
		if got := Truncate(tc.in, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
