package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// jsSigned is a request the AWS SDK for JavaScript signed for HTTP/2:
// SignedHeaders names :authority, not host (see clients/js/sigv4-golden.mjs).
type jsSigned struct {
	Method          string            `json:"method"`
	Path            string            `json:"path"`
	Headers         map[string]string `json:"headers"`
	Body            string            `json:"body"`
	AccessKeyID     string            `json:"access_key_id"`
	SecretAccessKey string            `json:"secret_access_key"`
}

func loadJSSigned(t *testing.T) jsSigned {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sigv4", "authority-js", "request.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g jsSigned
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestSigV4Authority checks the HTTP/2 rule of SigV4: a request may sign
// :authority in place of host, whose value is the request's authority. The
// requests cross a real HTTP/2 connection (cleartext, prior knowledge) on
// loopback; they are signed by aws-sdk-go-v2's signer and, for :authority
// alone, replayed from a request the JavaScript SDK signed.
func TestSigV4Authority(t *testing.T) {
	js := loadJSSigned(t)
	jsAt, err := time.Parse(amzDateFormat, js.Headers["x-amz-date"])
	if err != nil {
		t.Fatal(err)
	}
	cfg := &topology.Config{File: "t.yaml", Principals: []topology.Principal{
		{ID: "alice", AccessKeys: []topology.AccessKey{{ID: testAKID, SecretEnv: "ALICE"}}},
		{ID: "js", AccessKeys: []topology.AccessKey{{ID: js.AccessKeyID, SecretEnv: "JS"}}},
	}}
	secrets := map[string]string{"ALICE": testSecret, "JS": js.SecretAccessKey}
	clk := clock.NewManual(time.Time{}) // set to each case's time; cases are in time order
	v, err := NewSigV4(cfg, SigV4Options{Region: "eu-west-1", Getenv: func(k string) string { return secrets[k] },
		Clock: clk})
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		Proto     string `json:"proto"`
		Principal string `json:"principal"`
		Err       string `json:"err"`
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res := result{Proto: r.Proto}
		if p, err := v.Verify(r, body); err != nil {
			res.Err = err.Error()
		} else {
			res.Principal = p.ID
		}
		json.NewEncoder(w).Encode(res)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	transport := func(h2 bool) *http.Transport {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		if h2 {
			tr.Protocols.SetUnencryptedHTTP2(true)
		} else {
			tr.Protocols.SetHTTP1(true)
		}
		return tr
	}
	h2, h1 := transport(true), transport(false)
	defer h2.CloseIdleConnections()
	defer h1.CloseIdleConnections()

	body := []byte(`{"messages":[]}`)
	// goSigned signs with aws-sdk-go-v2's signer. A ":authority" header set
	// by before is signed like any header, then removed: HTTP/2 carries the
	// request's authority (req.Host) in that pseudo-header.
	goSigned := func(host string, before func(*http.Request), after func(*http.Request)) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/model/m/converse", bytes.NewReader(body))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		if before != nil {
			before(req)
		}
		sum := sha256.Sum256(body)
		if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret},
			req, hex.EncodeToString(sum[:]), "bedrock", "eu-west-1", sigNow); err != nil {
			t.Fatal(err)
		}
		req.Header.Del(":authority")
		if after != nil {
			after(req)
		}
		return req
	}
	// jsReplay sends the JavaScript SDK's request with the given authority.
	jsReplay := func(authority string, edit func(*http.Request)) *http.Request {
		req, _ := http.NewRequest(js.Method, srv.URL+js.Path, strings.NewReader(js.Body))
		req.Host = authority
		for k, val := range js.Headers {
			if !strings.HasPrefix(k, ":") && k != "content-length" {
				req.Header.Set(k, val)
			}
		}
		if edit != nil {
			edit(req)
		}
		return req
	}
	jsAuthority := js.Headers[":authority"]
	setAuthority := func(v string) func(*http.Request) { return func(r *http.Request) { r.Header.Set(":authority", v) } }

	for _, tc := range []struct {
		name      string
		req       *http.Request
		at        time.Time
		tr        *http.Transport
		principal string
		wantErr   error
	}{
		{name: "go signer, host signed, HTTP/2", req: goSigned("bedrock.example:443", nil, nil), at: sigNow, tr: h2, principal: "alice"},
		{name: "go signer, host and :authority signed, HTTP/2", req: goSigned("bedrock.example:443", setAuthority("bedrock.example:443"), nil), at: sigNow, tr: h2, principal: "alice"},
		{name: "go signer, :authority signed for another host", req: goSigned("bedrock.example:443", setAuthority("other.example:443"), nil), at: sigNow, tr: h2, wantErr: ErrSigV4Mismatch},
		{name: "go signer, neither host nor :authority signed", req: goSigned("bedrock.example:443", nil, dropSigned("host")), at: sigNow, tr: h2, wantErr: ErrSigV4Malformed},
		{name: "js signer, :authority in place of host, HTTP/2", req: jsReplay(jsAuthority, nil), at: jsAt, tr: h2, principal: "js"},
		// A proxy that speaks HTTP/1.1 to Meridian carries the authority
		// in Host: the signature still binds it.
		{name: "js signer, :authority in place of host, HTTP/1.1", req: jsReplay(jsAuthority, nil), at: jsAt, tr: h1, principal: "js"},
		{name: "js signer, :authority signed, another host", req: jsReplay("evil.example", nil), at: jsAt, tr: h2, wantErr: ErrSigV4Mismatch},
		{name: "js signer, :authority signed, same host another port", req: jsReplay(jsAuthority+":8443", nil), at: jsAt, tr: h2, wantErr: ErrSigV4Mismatch},
		{name: "js signer, neither host nor :authority signed", req: jsReplay(jsAuthority, dropSigned(":authority")), at: jsAt, tr: h2, wantErr: ErrSigV4Malformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if clk.Set(tc.at); !clk.Now().Equal(tc.at) {
				t.Fatalf("case at %v after one at %v: keep the cases in time order", tc.at, clk.Now())
			}
			resp, err := tc.tr.RoundTrip(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var got result
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Fatal(err)
			}
			wantProto := "HTTP/2.0"
			if tc.tr == h1 {
				wantProto = "HTTP/1.1"
			}
			if got.Proto != wantProto {
				t.Fatalf("served over %s, want %s", got.Proto, wantProto)
			}
			switch {
			case tc.wantErr == nil && got.Err != "":
				t.Fatalf("Verify: %s", got.Err)
			case tc.wantErr == nil && got.Principal != tc.principal:
				t.Fatalf("principal %q, want %q", got.Principal, tc.principal)
			case tc.wantErr != nil && !strings.HasPrefix(got.Err, tc.wantErr.Error()):
				t.Fatalf("error %q, want %q", got.Err, tc.wantErr)
			}
		})
	}
}

// TestSigV4SignedHeadersNeedAuthority pins the message of a request that
// signs neither host nor :authority.
func TestSigV4SignedHeadersNeedAuthority(t *testing.T) {
	v := newTestSigV4(t, nil)
	r := signed(t, http.MethodPost, "/model/m/converse", []byte(`{}`), "eu-west-1", sigNow, testSecret, dropSigned("host"))
	_, err := v.Verify(r, []byte(`{}`))
	if !errors.Is(err, ErrSigV4Malformed) || !strings.Contains(err.Error(), "SignedHeaders must include host (HTTP/1.1) or :authority (HTTP/2)") {
		t.Fatalf("err = %v", err)
	}
}

// dropSigned removes name from the SignedHeaders of a request's
// Authorization header.
func dropSigned(name string) func(*http.Request) {
	return func(r *http.Request) {
		a := r.Header.Get("Authorization")
		before, rest, _ := strings.Cut(a, "SignedHeaders=")
		list, after, _ := strings.Cut(rest, ",")
		var kept []string
		for _, h := range strings.Split(list, ";") {
			if h != name {
				kept = append(kept, h)
			}
		}
		r.Header.Set("Authorization", before+"SignedHeaders="+strings.Join(kept, ";")+","+after)
	}
}
