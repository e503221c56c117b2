package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/topology"
)

const (
	testAKID   = "AKIDMERIDIANTEST"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

var sigNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func newTestSigV4(t testing.TB, mutate func(*SigV4Options)) *SigV4 {
	t.Helper()
	cfg := &topology.Config{File: "t.yaml", Principals: []topology.Principal{
		{ID: "alice", Tags: map[string]string{"team": "a"}, AccessKeys: []topology.AccessKey{{ID: testAKID, SecretEnv: "ALICE_SECRET"}}},
		{ID: "bob", AccessKeys: []topology.AccessKey{{ID: "AKIDBOB", SecretFile: "/secrets/bob"}}},
	}}
	opts := SigV4Options{Region: "eu-west-1", Clock: clock.NewManual(sigNow),
		Getenv: func(k string) string {
			if k == "ALICE_SECRET" {
				return testSecret + "\n"
			}
			return ""
		},
		ReadFile: func(name string) ([]byte, error) {
			if name == "/secrets/bob" {
				return []byte("bobsecret"), nil
			}
			return nil, fs.ErrNotExist
		}}
	if mutate != nil {
		mutate(&opts)
	}
	v, err := NewSigV4(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// signed returns a request signed by the SDK's signer, as the server sees it.
// before edits the request before it is signed.
func signed(t testing.TB, method, target string, body []byte, region string, at time.Time, secret string, edit func(*http.Request), before ...func(*http.Request)) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(method, "http://127.0.0.1:8080"+target, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Amz-Sdk-Invocation-Id", "abc")
	for _, f := range before {
		f(req)
	}
	sum := sha256.Sum256(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: secret},
		req, hex.EncodeToString(sum[:]), "bedrock", region, at)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(req)
	}
	// Rebuild as a server-side request (RequestURI, Host, ContentLength).
	sr := httptest.NewRequest(method, target, bytes.NewReader(body))
	sr.Host = req.URL.Host
	sr.Header = req.Header.Clone()
	sr.ContentLength = int64(len(body))
	return sr
}

func TestSigV4Verify(t *testing.T) {
	t.Parallel()
	v := newTestSigV4(t, nil)
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
	arnPath := "/model/arn%3Aaws%3Abedrock%3Aeu-west-1%3A111122223333%3Ainference-profile%2Feu.demo.chat-small/converse"
	tests := []struct {
		name    string
		method  string
		target  string
		body    []byte
		region  string
		at      time.Time
		secret  string
		edit    func(*http.Request)
		wantErr error
	}{
		{name: "converse", method: "POST", target: "/model/eu.demo.chat-small/converse", body: body, region: "eu-west-1", at: sigNow, secret: testSecret},
		{name: "escaped ARN path is double-escaped", method: "POST", target: arnPath, body: body, region: "eu-west-1", at: sigNow, secret: testSecret},
		{name: "GET with query", method: "GET", target: "/inference-profiles?maxResults=10&nextToken=a%2Fb&type=SYSTEM_DEFINED", region: "eu-west-1", at: sigNow, secret: testSecret},
		{name: "skew inside window", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow.Add(-4 * time.Minute), secret: testSecret},
		{name: "skew past", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow.Add(-6 * time.Minute), secret: testSecret, wantErr: ErrSigV4Skew},
		{name: "skew future", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow.Add(6 * time.Minute), secret: testSecret, wantErr: ErrSigV4Skew},
		{name: "wrong secret", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow, secret: "nope", wantErr: ErrSigV4Mismatch},
		{name: "wrong region", method: "POST", target: "/model/x/converse", body: body, region: "us-east-1", at: sigNow, secret: testSecret, wantErr: ErrSigV4Scope},
		{name: "body changed", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow, secret: testSecret,
			edit: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, wantErr: ErrSigV4Mismatch},
		{name: "unknown key", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow, secret: testSecret,
			edit: func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), testAKID, "AKIDOTHER", 1))
			}, wantErr: ErrSigV4UnknownKey},
		{name: "host not signed", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow, secret: testSecret,
			edit: func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
			}, wantErr: ErrSigV4Malformed},
		{name: "content hash header mismatch", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow, secret: testSecret,
			edit: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64)) }, wantErr: ErrSigV4Mismatch},
		{name: "unsigned payload refused", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow, secret: testSecret,
			edit: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD") }, wantErr: ErrSigV4Unsigned},
		{name: "missing", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow, secret: testSecret,
			edit: func(r *http.Request) { r.Header.Del("Authorization") }, wantErr: ErrSigV4Missing},
		{name: "malformed date", method: "POST", target: "/model/x/converse", body: body, region: "eu-west-1", at: sigNow, secret: testSecret,
			edit: func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }, wantErr: ErrSigV4Malformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := signed(t, tc.method, tc.target, tc.body, tc.region, tc.at, tc.secret, tc.edit)
			p, err := v.Verify(r, tc.body)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify(%s %s) error = %v, want %v", tc.method, tc.target, err, tc.wantErr)
			}
			if err == nil && (p.ID != "alice" || p.Method != MethodSigV4 || p.KeyID != testAKID || p.Tags["team"] != "a") {
				t.Errorf("Verify(%s %s) = %+v, want alice via sigv4", tc.method, tc.target, p)
			}
			if err != nil && strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q reveals the secret", err)
			}
		})
	}
}

func TestSigV4UnsignedPayloadWhenAllowed(t *testing.T) {
	t.Parallel()
	v := newTestSigV4(t, func(o *SigV4Options) { o.AllowUnsignedPayload = true })
	req, _ := http.NewRequest("POST", "http://h/model/x/invoke", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
		req, "UNSIGNED-PAYLOAD", "bedrock", "eu-west-1", sigNow); err != nil {
		t.Fatal(err)
	}
	sr := httptest.NewRequest("POST", "/model/x/invoke", strings.NewReader("{}"))
	sr.Host, sr.Header = "h", req.Header
	if _, err := v.Verify(sr, []byte("{}")); err != nil {
		t.Fatalf("Verify(UNSIGNED-PAYLOAD, allowed) = %v, want nil", err)
	}
}

func TestSigV4Presigned(t *testing.T) {
	t.Parallel()
	presign := func() *http.Request {
		req, _ := http.NewRequest("GET", "http://h/inference-profiles?X-Amz-Expires=300", nil)
		u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
			req, "UNSIGNED-PAYLOAD", "bedrock", "eu-west-1", sigNow)
		if err != nil {
			t.Fatal(err)
		}
		sr := httptest.NewRequest("GET", strings.TrimPrefix(u, "http://h"), nil)
		sr.Host = "h"
		for k, v := range hdr {
			if k != "Host" {
				sr.Header[k] = v
			}
		}
		return sr
	}
	if _, err := newTestSigV4(t, nil).Verify(presign(), nil); !errors.Is(err, ErrSigV4Presigned) {
		t.Errorf("Verify(presigned, disabled) = %v, want %v", err, ErrSigV4Presigned)
	}
	if p, err := newTestSigV4(t, func(o *SigV4Options) { o.AllowPresigned = true }).Verify(presign(), nil); err != nil || p.ID != "alice" {
		t.Errorf("Verify(presigned, enabled) = %+v, %v; want alice", p, err)
	}
}

// TestSigV4PresignedBody: a presigned POST signs the body's hash or
// UNSIGNED-PAYLOAD; a changed body never verifies, and an unsigned one only
// when unsigned payloads are allowed.
func TestSigV4PresignedBody(t *testing.T) {
	t.Parallel()
	body := []byte(`{"messages":[]}`)
	sum := sha256.Sum256(body)
	presign := func(payloadHash string, sent []byte, forgedHeader string) *http.Request {
		req, _ := http.NewRequest("POST", "http://h/model/m/converse?X-Amz-Expires=300", nil)
		u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
			req, payloadHash, "bedrock", "eu-west-1", sigNow)
		if err != nil {
			t.Fatal(err)
		}
		sr := httptest.NewRequest("POST", strings.TrimPrefix(u, "http://h"), bytes.NewReader(sent))
		sr.Host = "h"
		for k, v := range hdr {
			if k != "Host" {
				sr.Header[k] = v
			}
		}
		if forgedHeader != "" {
			sr.Header.Set("X-Amz-Content-Sha256", forgedHeader)
		}
		return sr
	}
	changed := []byte(`{"messages":[{"role":"user"}]}`)
	changedSum := sha256.Sum256(changed)
	tests := []struct {
		name          string
		payloadHash   string
		sent          []byte
		forged        string
		allowUnsigned bool
		want          error
	}{
		{"body hash, same body", hex.EncodeToString(sum[:]), body, "", false, nil},
		{"body hash, changed body", hex.EncodeToString(sum[:]), changed, "", false, ErrSigV4Mismatch},
		{"body hash, changed body and a matching forged header", hex.EncodeToString(sum[:]), changed, hex.EncodeToString(changedSum[:]), false, ErrSigV4Mismatch},
		{"unsigned payload, refused", "UNSIGNED-PAYLOAD", body, "", false, ErrSigV4Unsigned},
		{"unsigned payload, allowed", "UNSIGNED-PAYLOAD", changed, "", true, nil},
		{"unsigned payload, empty body", "UNSIGNED-PAYLOAD", nil, "", false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := newTestSigV4(t, func(o *SigV4Options) { o.AllowPresigned, o.AllowUnsignedPayload = true, tc.allowUnsigned })
			_, err := v.Verify(presign(tc.payloadHash, tc.sent, tc.forged), tc.sent)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNewSigV4SecretErrors(t *testing.T) {
	t.Parallel()
	cfg := &topology.Config{File: "t.yaml", Principals: []topology.Principal{
		{ID: "a", AccessKeys: []topology.AccessKey{{ID: "K1", SecretEnv: "MISSING"}, {ID: "K2", SecretFile: "/nope"}, {ID: "K3"}}},
	}}
	_, err := NewSigV4(cfg, SigV4Options{Region: "r", Getenv: func(string) string { return "" },
		ReadFile: func(string) ([]byte, error) {
			return nil, &fs.PathError{Op: "open", Path: "/nope", Err: fs.ErrNotExist}
		}})
	if err == nil {
		t.Fatal("NewSigV4 with unloadable secrets = nil error")
	}
	for _, want := range []string{"principals[0].access_keys[0]", "MISSING", "access_keys[1]", "/nope", "access_keys[2]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NewSigV4 error %q does not mention %q", err, want)
		}
	}
}

// FuzzSigV4Verify feeds arbitrary Authorization, X-Amz-Date and query
// strings to the verifier: it never panics, never accepts a request it did
// not sign, and every refusal wraps one of the ErrSigV4* sentinels.
func FuzzSigV4Verify(f *testing.F) {
	v := newTestSigV4(f, func(o *SigV4Options) { o.AllowPresigned = true })
	good := signed(f, "POST", "/model/x/converse", []byte("{}"), "eu-west-1", sigNow, testSecret, nil)
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), "")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDMERIDIANTEST/20261125/eu-west-1/bedrock/aws4_request, SignedHeaders=host, Signature=00", "20261125T100000Z", "")
	f.Add("", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDMERIDIANTEST%2F20261125%2Feu-west-1%2Fbedrock%2Faws4_request&X-Amz-Date=20261125T100000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=ab")
	sentinels := []error{ErrSigV4Missing, ErrSigV4Malformed, ErrSigV4UnknownKey, ErrSigV4Scope, ErrSigV4Skew, ErrSigV4Mismatch, ErrSigV4Presigned, ErrSigV4Unsigned}
	f.Fuzz(func(t *testing.T, authz, date, query string) {
		r := httptest.NewRequest("POST", "/model/x/converse", strings.NewReader("{}"))
		r.Host = "127.0.0.1:8080"
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", authz)
		r.Header.Set("X-Amz-Date", date)
		_, err := v.Verify(r, []byte("{}"))
		if err == nil {
			if authz == good.Header.Get("Authorization") && date == good.Header.Get("X-Amz-Date") && query == "" {
				return
			}
			t.Fatalf("Verify accepted Authorization %q, X-Amz-Date %q, query %q", authz, date, query)
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("Verify error %v wraps no sentinel", err)
	})
}
