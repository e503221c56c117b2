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
	"unicode/utf8"
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

// FuzzSigV4Check feeds arbitrary Authorization, X-Amz-Date,
// X-Amz-Content-Sha256 and query strings to the checks that run before the
// body: they never panic, every refusal wraps a sentinel, and a request
// they accept as signed never verifies with another body.
func FuzzSigV4Check(f *testing.F) {
	v := newTestSigV4(f, func(o *SigV4Options) { o.AllowPresigned, o.AllowUnsignedPayload = true, true })
	body := []byte("{}")
	sum := sha256.Sum256(body)
	good := signed(f, "POST", "/model/x/converse", body, "eu-west-1", sigNow, testSecret, nil,
		func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:])) })
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), good.Header.Get("X-Amz-Content-Sha256"), "")
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), "UNSIGNED-PAYLOAD", "")
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), "", "")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("a", 64), "20261125T100000Z", strings.Repeat("F", 64), "")
	f.Add("", "", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDMERIDIANTEST%2F20261125%2Feu-west-1%2Fbedrock%2Faws4_request&X-Amz-Date=20261125T100000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab")
	sentinels := []error{ErrSigV4Missing, ErrSigV4Malformed, ErrSigV4UnknownKey, ErrSigV4Scope, ErrSigV4Skew, ErrSigV4Mismatch, ErrSigV4Presigned, ErrSigV4Unsigned}
	f.Fuzz(func(t *testing.T, authz, date, contentHash, query string) {
		r, _ := http.NewRequest("POST", "/model/x/converse", nil)
		r.Host, r.ContentLength, r.Body = "127.0.0.1:8080", int64(len(body)), failingBody{t}
		r.URL.RawQuery = query
		r.Header = good.Header.Clone()
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("X-Amz-Content-Sha256", contentHash)
		c, err := v.Check(r)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Check error %v wraps no sentinel", err)
		}
		if c.Signed() && contentHash != "UNSIGNED-PAYLOAD" {
			if _, err := c.Verify([]byte("{ }")); err == nil {
				t.Fatalf("Check accepted Authorization %q, X-Amz-Content-Sha256 %q and another body verified", authz, contentHash)
			}
		}
	})
}

// FuzzTruncate: the result is s when short enough, else a prefix of s of
// at most n bytes, cut at a rune boundary, followed by the marker.
func FuzzTruncate(f *testing.F) {
	f.Add("hello", 3)
	f.Add("ééé", 1)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n % 1024
		got := Truncate(s, n)
		if len(s) <= n {
			if got != s {
				t.Fatalf("Truncate(%q, %d) = %q, want it unchanged", s, n, got)
			}
			return
		}
		prefix, _, ok := strings.Cut(got, "…(+")
		if !ok || !strings.HasPrefix(s, prefix) || len(prefix) > max(n, 0) {
			t.Fatalf("Truncate(%q, %d) = %q, want a prefix of at most %d bytes and the marker", s, n, got, n)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Truncate(%q, %d) = %q cuts a rune", s, n, got)
		}
	})
}
