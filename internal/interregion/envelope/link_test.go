package envelope_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
)

// destination is a minimal link server: mTLS from pki, then the envelope
// check, then "inference" (a counter).
type destination struct {
	region     string
	url        string
	now        atomic.Pointer[time.Time]
	inferences atomic.Int64
	// signerDiffers counts accepted requests signed with a certificate
	// other than the connection's (a source rotated mid-connection).
	signerDiffers atomic.Int64
	mu            sync.Mutex
	rejected      []string
}

func startDestination(t *testing.T, store *pki.Store, region string, peers ...string) *destination {
	t.Helper()
	d := &destination{region: region}
	now := t0
	d.now.Store(&now)
	v := envelope.NewVerifier(envelope.VerifierOptions{Region: region, Checker: geoChecker(region), VerifySigner: store.VerifyPeer})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		sealed := envelope.FromHeaders(r.Header)
		_, err = v.Verify(sealed, pki.PeerCertificate(r), envelope.HashBody(body), *d.now.Load())
		if err != nil {
			reason, _ := envelope.ReasonOf(err)
			d.mu.Lock()
			d.rejected = append(d.rejected, reason.String())
			d.mu.Unlock()
			http.Error(w, reason.String(), http.StatusForbidden)
			return
		}
		d.inferences.Add(1)
		if !bytes.Equal(decodeCert(sealed.Certificate), r.TLS.PeerCertificates[0].Raw) {
			d.signerDiffers.Add(1)
		}
		io.WriteString(w, "inference ran in "+region)
	})
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.TLS = store.ServerTLSConfig(func(r string) bool {
		for _, p := range peers {
			if p == r {
				return true
			}
		}
		return false
	})
	ts.StartTLS()
	t.Cleanup(ts.Close)
	d.url = ts.URL
	return d
}

func (d *destination) lastRejection() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.rejected) == 0 {
		return ""
	}
	return d.rejected[len(d.rejected)-1]
}

// forward sends body with sealed's headers to d.
func forward(c *http.Client, url string, sealed envelope.Sealed, body []byte) (int, string, error) {
	req, err := http.NewRequest("POST", url+"/link/v1/invoke", bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	sealed.SetHeaders(req.Header)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), err
}

func linkClient(store *pki.Store, region string) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: store.ClientTLSConfig(region), ForceAttemptHTTP2: true}}
}

// TestLinkAttacks runs each attack over real mutual TLS on loopback and
// checks it is refused with its reason and runs no inference.
func TestLinkAttacks(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "eu-west-1", "eu-central-1", "us-east-1")
	dst := startDestination(t, w.stores["eu-central-1"], "eu-central-1", "eu-west-1", "us-east-1")
	eu := linkClient(w.stores["eu-west-1"], "eu-central-1")
	us := linkClient(w.stores["us-east-1"], "eu-central-1")
	body := []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"bonjour"}]}`)

	genuine := mustSign(t, request("eu-west-1", "eu-central-1", body, t0), w.cert("eu-west-1"))
	if code, msg, err := forward(eu, dst.url, genuine, body); err != nil || code != 200 {
		t.Fatalf("genuine request: %d %q %v", code, msg, err)
	}

	tests := []struct {
		name   string
		client *http.Client
		sealed func() envelope.Sealed
		body   []byte
		skew   time.Duration // destination clock minus source clock
		want   string
	}{
		{name: "replayed envelope", client: eu, sealed: func() envelope.Sealed { return genuine }, want: "replay"},
		{name: "body changed", client: eu, body: []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"tampered"}]}`),
			sealed: func() envelope.Sealed {
				return mustSign(t, request("eu-west-1", "eu-central-1", body, t0), w.cert("eu-west-1"))
			},
			want: "body_hash"},
		{name: "stale envelope", client: eu, skew: 31 * time.Second,
			sealed: func() envelope.Sealed {
				return mustSign(t, request("eu-west-1", "eu-central-1", body, t0), w.cert("eu-west-1"))
			},
			want: "stale"},
		{name: "destination other than receiver", client: eu,
			sealed: func() envelope.Sealed {
				return mustSign(t, request("eu-west-1", "eu-west-2", body, t0), w.cert("eu-west-1"))
			},
			want: "wrong_destination"},
		{name: "envelope claims another source region than the certificate", client: us,
			sealed: func() envelope.Sealed {
				return forge(t, fields(t, request("eu-west-1", "eu-central-1", body, t0)), w.cert("us-east-1"))
			},
			want: "region_mismatch"},
		{name: "envelope asks an EU destination to serve a us. profile", client: eu,
			sealed: func() envelope.Sealed {
				e := request("eu-west-1", "eu-central-1", body, t0)
				e.ProfileARN = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/us.demo.chat-small"
				return mustSign(t, e, w.cert("eu-west-1"))
			},
			want: "profile_excludes_destination"},
		{name: "eu. profile invoked from a us region", client: us,
			sealed: func() envelope.Sealed {
				return mustSign(t, request("us-east-1", "eu-central-1", body, t0), w.cert("us-east-1"))
			},
			want: "geography_mismatch"},
		{name: "no envelope", client: eu, sealed: func() envelope.Sealed { return envelope.Sealed{} }, want: "malformed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := t0.Add(tc.skew)
			dst.now.Store(&now)
			defer func() { now := t0; dst.now.Store(&now) }()
			b := tc.body
			if b == nil {
				b = body
			}
			before := dst.inferences.Load()
			code, msg, err := forward(tc.client, dst.url, tc.sealed(), b)
			if err != nil {
				t.Fatal(err)
			}
			if code != http.StatusForbidden || msg != tc.want {
				t.Errorf("response %d %q, want 403 %q", code, msg, tc.want)
			}
			if got := dst.lastRejection(); got != tc.want {
				t.Errorf("destination recorded %q, want %q", got, tc.want)
			}
			if got := dst.inferences.Load(); got != before {
				t.Errorf("%d inferences ran for a refused envelope", got-before)
			}
		})
	}
}

// TestRotationWithEnvelopes rotates the source's and destination's
// certificates while signed requests stream over keep-alive connections:
// no request fails. Requests signed with the source's new key on a
// connection made with its old certificate are accepted through the
// signer certificate header.
func TestRotationWithEnvelopes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "eu-west-1", "eu-central-1")
	src, dstStore := w.stores["eu-west-1"], w.stores["eu-central-1"]
	dst := startDestination(t, dstStore, "eu-central-1", "eu-west-1")
	body := []byte(`{"messages":[]}`)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	progress := make(chan struct{}) // unbuffered: wait counts only requests completed while it waits
	var errMu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	for i := range 3 {
		tr := &http.Transport{TLSClientConfig: src.ClientTLSConfig("eu-central-1"), ForceAttemptHTTP2: i != 2}
		c := &http.Client{Transport: tr}
		wg.Go(func() {
			defer tr.CloseIdleConnections()
			for ctx.Err() == nil {
				sealed, err := envelope.Sign(request("eu-west-1", "eu-central-1", body, t0), src.Certificate())
				if err != nil {
					panic(err)
				}
				code, msg, err := forward(c, dst.url, sealed, body)
				if ctx.Err() != nil {
					return
				}
				if err != nil || code != 200 {
					errMu.Lock()
					failures = append(failures, fmt.Sprintf("%d %q %v", code, msg, err))
					errMu.Unlock()
				}
				select {
				case progress <- struct{}{}:
				default:
				}
			}
		})
	}
	wait := func(n int) {
		for range n {
			select {
			case <-progress:
			case <-t.Context().Done():
				t.Fatal("requests stopped")
			}
		}
	}
	wait(30)
	for _, r := range []string{"eu-west-1", "eu-central-1"} {
		w.f.Issue(t, r)
	}
	for _, s := range []*pki.Store{src, dstStore} {
		if changed, err := s.Reload(); !changed || err != nil {
			t.Fatalf("Reload() = %v, %v", changed, err)
		}
	}
	wait(30)
	cancel()
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d forwarded requests failed during rotation; first: %s", len(failures), failures[0])
	}
	if dst.signerDiffers.Load() == 0 {
		t.Error("no request was signed with a certificate other than its connection's; the rotation path was not exercised")
	}
}

func decodeCert(s string) []byte {
	b, _ := base64.RawURLEncoding.DecodeString(s)
	return b
}
