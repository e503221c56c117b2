package pki_test

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

// rejections collects the PeerErrors a store's TLS configurations raise.
type rejections struct {
	mu   sync.Mutex
	errs []*pki.PeerError
}

func (r *rejections) add(e *pki.PeerError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, e)
}

func (r *rejections) reasons() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.errs {
		out = append(out, e.Reason)
	}
	return out
}

// linkServer starts a TLS 1.3 link listener for region on loopback with
// real TLS; its handler answers with the verified peer region.
func linkServer(t *testing.T, store *pki.Store, accept ...string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		region, ok := pki.PeerRegion(r)
		if !ok {
			http.Error(w, "no peer", http.StatusForbidden)
			return
		}
		io.WriteString(w, region)
	})
	ts := httptest.NewUnstartedServer(h)
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = log.New(tWriter{t}, "", 0)
	ts.TLS = store.ServerTLSConfig(func(region string) bool {
		for _, a := range accept {
			if a == region {
				return true
			}
		}
		return false
	})
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts, &calls
}

func linkClient(cfg *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
}

func TestLinkMutualTLS(t *testing.T) {
	t.Parallel()
	meridian := pkitest.New(t, "")
	rogueCA := pkitest.New(t, "")         // same trust domain, another CA
	otherDomain := pkitest.New(t, "corp") // another trust domain, trusted CA

	var serverRejects, clientRejects rejections
	srvOpts := meridian.Options(t, "eu-west-1")
	srvOpts.PeerRejected = serverRejects.add
	// The server also trusts otherDomain's CA, to show the trust domain is
	// checked on its own.
	bundle := concatFiles(t, meridian.CAFile(), otherDomain.CAFile())
	srvOpts.CAFile = bundle
	server, err := pki.NewStore(srvOpts)
	if err != nil {
		t.Fatal(err)
	}
	ts, calls := linkServer(t, server, "us-east-1", "eu-west-1")

	newClient := func(t *testing.T, f *pkitest.Fixture, region string) *pki.Store {
		opts := f.Options(t, region)
		opts.CAFile = meridian.CAFile()
		opts.PeerRejected = clientRejects.add
		s, err := pki.NewStore(opts)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	us := newClient(t, meridian, "us-east-1")

	t.Run("genuine peer", func(t *testing.T) {
		resp, err := linkClient(us.ClientTLSConfig("eu-west-1")).Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "us-east-1" {
			t.Fatalf("status %d, body %q; want 200 us-east-1", resp.StatusCode, body)
		}
		if resp.ProtoMajor != 2 || resp.TLS.Version != tls.VersionTLS13 {
			t.Errorf("proto %s, TLS version %x; want HTTP/2 over TLS 1.3", resp.Proto, resp.TLS.Version)
		}
	})

	attacks := []struct {
		name       string
		client     func(t *testing.T) *http.Client
		url        func(t *testing.T) string
		wantServer string // reason the server records, if any
		wantClient string // reason the client records, if any
		wantErr    string // substring of the client's error
	}{
		{
			name: "client certificate from another CA",
			client: func(t *testing.T) *http.Client {
				return linkClient(newClient(t, rogueCA, "us-east-1").ClientTLSConfig("eu-west-1"))
			},
			wantServer: pki.ReasonUntrusted,
		},
		{
			// The attacker's own client skips server verification.
			name: "client certificate of another trust domain",
			client: func(t *testing.T) *http.Client {
				cert := otherDomain.Store(t, "us-east-1").Certificate()
				return linkClient(&tls.Config{Certificates: []tls.Certificate{*cert}, InsecureSkipVerify: true})
			},
			wantServer: pki.ReasonTrustDomain,
		},
		{
			name: "genuine certificate of a region outside the topology",
			client: func(t *testing.T) *http.Client {
				return linkClient(newClient(t, meridian, "ap-south-1").ClientTLSConfig("eu-west-1"))
			},
			wantServer: pki.ReasonUnknownRegion,
		},
		{
			name:       "server presents another region than dialled",
			client:     func(t *testing.T) *http.Client { return linkClient(us.ClientTLSConfig("eu-central-1")) },
			wantClient: pki.ReasonRegionMismatch,
		},
		{
			name: "no client certificate",
			client: func(t *testing.T) *http.Client {
				cfg := us.ClientTLSConfig("eu-west-1")
				cfg.GetClientCertificate = nil
				return linkClient(cfg)
			},
			// crypto/tls refuses it before VerifyConnection, so there is
			// no PeerError; in TLS 1.3 the client may see the refusal as
			// a failed first read rather than a handshake alert.
		},
		{
			name: "TLS 1.2 client",
			client: func(t *testing.T) *http.Client {
				cfg := us.ClientTLSConfig("eu-west-1")
				cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
				return linkClient(cfg)
			},
			wantErr: "protocol version",
		},
		{
			name: "server from another CA",
			client: func(t *testing.T) *http.Client {
				return linkClient(us.ClientTLSConfig("eu-west-1"))
			},
			url: func(t *testing.T) string {
				rts, _ := linkServer(t, rogueCA.Store(t, "eu-west-1"), "us-east-1")
				return rts.URL
			},
			wantClient: pki.ReasonUntrusted,
		},
	}
	for _, tc := range attacks {
		t.Run(tc.name, func(t *testing.T) {
			before := calls.Load()
			sBefore, cBefore := len(serverRejects.reasons()), len(clientRejects.reasons())
			c := tc.client(t)
			url := ts.URL
			if tc.url != nil {
				url = tc.url(t)
			}
			resp, err := c.Get(url)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET succeeded with status %d, want a handshake failure", resp.StatusCode)
			}
			if tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %v, want it to mention %q", err, tc.wantErr)
			}
			if got := calls.Load(); got != before {
				t.Errorf("handler ran %d times for a refused peer", got-before)
			}
			if tc.wantServer != "" {
				got := serverRejects.reasons()[sBefore:]
				if len(got) != 1 || got[0] != tc.wantServer {
					t.Errorf("server rejections = %v, want [%s]", got, tc.wantServer)
				}
			}
			if tc.wantClient != "" {
				got := clientRejects.reasons()[cBefore:]
				if len(got) != 1 || got[0] != tc.wantClient {
					t.Errorf("client rejections = %v, want [%s]", got, tc.wantClient)
				}
				var perr *pki.PeerError
				if !errors.As(err, &perr) || perr.Reason != tc.wantClient {
					t.Errorf("client error = %v, want a *PeerError %s", err, tc.wantClient)
				}
			}
		})
	}

	t.Run("plain HTTP", func(t *testing.T) {
		before := calls.Load()
		resp, err := http.Get("http://" + strings.TrimPrefix(ts.URL, "https://"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("plain HTTP status %d, want 400", resp.StatusCode)
			}
		}
		if got := calls.Load(); got != before {
			t.Errorf("handler ran for a plain HTTP request")
		}
	})
}

// TestServeTLSWiring checks the production wiring: an http.Server with
// ServerTLSConfig and ServeTLS(ln, "", "") (no certificate files), and a
// Transport with ClientTLSConfig and ForceAttemptHTTP2, speak HTTP/2 over
// TLS 1.3.
func TestServeTLSWiring(t *testing.T) {
	t.Parallel()
	f := pkitest.New(t, "")
	server, client := f.Store(t, "eu-west-1"), f.Store(t, "us-east-1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			region, _ := pki.PeerRegion(r)
			io.WriteString(w, region)
		}),
		TLSConfig: server.ServerTLSConfig(func(r string) bool { return r == "us-east-1" }),
		ErrorLog:  log.New(tWriter{t}, "", 0),
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: client.ClientTLSConfig("eu-west-1"), ForceAttemptHTTP2: true}}
	resp, err := c.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "us-east-1" || resp.ProtoMajor != 2 || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("got %q over %s TLS %x; want us-east-1 over HTTP/2, TLS 1.3", body, resp.Proto, resp.TLS.Version)
	}
}
