package interregion

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)

const (
	src = "eu-west-1"
	dst = "eu-central-1"
)

// recorder is the destination's gateway: it records the jobs it is asked
// to serve and answers each with an empty response.
type recorder struct {
	mu   sync.Mutex
	jobs []*dispatch.Job
	// overhead, if set, is the destination's own time on its answers.
	overhead *dispatch.Overhead
}

func (r *recorder) ServeForwarded(_ context.Context, job *dispatch.Job) (*dispatch.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, job)
	return &dispatch.Outcome{Route: dispatch.Route{Overhead: r.overhead}, Response: &inference.Response{}}, nil
}

func (r *recorder) served() []*dispatch.Job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.jobs)
}

// link is a destination node's link listener on loopback, with the real
// server and envelope verifier, and the source's TLS material to reach it.
type link struct {
	addr  string
	local *recorder
	// headers holds the headers of every request the listener received.
	mu      sync.Mutex
	headers []http.Header
	// source is the source region's store (nil on an insecure link).
	source *pki.Store
	// version1 makes the state endpoint answer as a node of envelope
	// version 1 did.
	version1 atomic.Bool
	// protoMajor is the HTTP major version of the last request.
	protoMajor int
	// us is a store of region us-east-1, under the same CA.
	us *pki.Store
	// skew is the destination's clock minus t0.
	skew atomic.Int64
	// fixture is the link CA (nil on an insecure link).
	fixture *pkitest.Fixture
	// peers records the serial of the client certificate of every
	// request's connection.
	peers []string
}

func (l *link) now() time.Time { return t0.Add(time.Duration(l.skew.Load())) }

// euChecker stands in for the destination's topology checks: "eu.*"
// profiles, global ones and models may run here, "eu.*" only for a source
// in eu-*.
var euChecker = envelope.CheckerFunc(func(e *envelope.Envelope) error {
	id, err := ProfileIDFromARN(e.ProfileARN)
	if err != nil {
		return envelope.Rejectf(envelope.ReasonMalformed, "profile ARN: %v", err)
	}
	geo, _, _ := strings.Cut(id, ".")
	switch geo {
	case "eu", "us", "apac":
	default:
		return nil // a model, or a global profile
	}
	switch {
	case geo != "eu":
		return envelope.Rejectf(envelope.ReasonProfileExcludesDestination, "%s excludes %s", id, dst)
	case !strings.HasPrefix(e.SourceRegion, "eu-"):
		return envelope.Rejectf(envelope.ReasonGeographyMismatch, "%s is bound to eu; source %s", id, e.SourceRegion)
	}
	return nil
})

// startLink starts a destination listener for dst. With secure false it is
// an insecure development link: plain HTTP, no verifier, no signer.
func startLink(t *testing.T, secure bool) *link {
	t.Helper()
	return startLinkProto(t, secure, true)
}

// startLinkProto is startLink with HTTP/2 offered (h2) or not.
func startLinkProto(t testing.TB, secure, h2 bool) *link {
	t.Helper()
	l := &link{local: &recorder{}}
	opts := ServerOptions{Local: l.local}
	var serverTLS *tls.Config
	if secure {
		f := pkitest.New(t, "")
		l.fixture = f
		l.source = f.Store(t, src)
		dstStore := f.Store(t, dst)
		l.us = f.Store(t, "us-east-1")
		opts.Verifier = EnvelopeVerifier{
			Verifier: envelope.NewVerifier(envelope.VerifierOptions{Region: dst, VerifySigner: dstStore.VerifyPeer, Checker: euChecker}),
			Clock:    nowClock(l.now),
		}
		serverTLS = dstStore.ServerTLSConfig(func(r string) bool { return r == src || r == "us-east-1" })
	}
	h := NewServer(opts)
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == PathState && l.version1.Load() {
			io.WriteString(w, "{}") // a version 1 node's state: no envelope version
			return
		}
		l.mu.Lock()
		l.headers = append(l.headers, r.Header.Clone())
		l.protoMajor = r.ProtoMajor
		if c := pki.PeerCertificate(r); c != nil {
			l.peers = append(l.peers, c.SerialNumber.String())
		}
		l.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.Config.ConnContext = ConnContext
	if secure {
		ts.EnableHTTP2 = h2
		ts.TLS = serverTLS
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	l.addr = ts.Listener.Addr().String()
	return l
}

// client returns the source node's link client to l; withCertificate
// signs envelopes with the certificate instead of the session MAC.
func (l *link) client(t testing.TB, withCertificate bool) *Client {
	opts := ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: l.addr}}, Clock: clock.NewManual(t0)}
	if l.source != nil {
		opts.TLS = l.source.ClientTLSConfig
		opts.Signer = EnvelopeSigner{Store: l.source, SignWithCertificate: withCertificate}
	}
	c := NewClient(opts)
	t.Cleanup(c.Close)
	return c
}

func (l *link) lastHeader() http.Header {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.headers[len(l.headers)-1]
}

// TestWireGolden pins the link's wire format: for each job in
// testdata/wire/<case>/job.json, the headers of the forwarded request and
// the exact envelope JSON are in request.golden (the nonce and the seal,
// random, are shown as placeholders after their form is checked). The
// destination must serve exactly the job the source sent. Run with -update
// to rewrite the golden files after a deliberate format change, which also
// needs a new envelope.Version (docs/security.md).
func TestWireGolden(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name            string
		secure          bool
		withCertificate bool
		// tier is set on the job's request after it is decoded from
		// job.json, as a front end does for a tier named in a header.
		tier inference.ServiceTier
	}{
		{"apikey-over-tls", true, false, ""},
		{"sigv4-ipv6-plain-http-client", true, false, ""},
		{"signed-with-certificate", true, true, ""},
		{"insecure-dev-link", false, false, ""},
		{"traced-attempt", true, false, ""},
		{"flex-tier-from-header", true, false, inference.TierFlex},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join("testdata", "wire", tc.name)
			in, err := os.ReadFile(filepath.Join(dir, "job.json"))
			if err != nil {
				t.Fatal(err)
			}
			var job dispatch.Job
			if err := json.Unmarshal(in, &job); err != nil {
				t.Fatalf("job.json: %v", err)
			}
			job.Request = clientRequest(t, &job)
			if tc.tier != "" {
				job.Request.ServiceTier = tc.tier
			}
			l := startLink(t, tc.secure)
			sent := job
			if _, err := l.client(t, tc.withCertificate).Executor(dst).Complete(t.Context(), &sent); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			got := wireText(t, l.lastHeader())
			goldenPath := filepath.Join(dir, "request.golden")
			checkGolden(t, goldenPath, got, "forwarded request")
			served := l.local.served()
			if len(served) != 1 {
				t.Fatalf("destination served %d jobs, want 1", len(served))
			}
			if diff := cmp.Diff(&job, served[0]); diff != "" {
				t.Errorf("job served at the destination differs from the job sent (-sent +served):\n%s", diff)
			}
		})
	}
}

var (
	nonceField = regexp.MustCompile(`"nonce":"([A-Za-z0-9_-]*)"`)
	b64url     = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// wireText renders the link headers of a forwarded request and its envelope
// for the golden files, checking the form of the values it hides.
func wireText(t *testing.T, h http.Header) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# Meridian-* and Content-Type headers of POST " + PathInvoke + "; values\n# in <> are checked for form only. The envelope follows, exactly.\n")
	var names []string
	for k := range h {
		if strings.HasPrefix(k, "Meridian-") || k == "Content-Type" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		v := h.Get(k)
		if len(h.Values(k)) != 1 {
			t.Errorf("header %s sent %d times", k, len(h.Values(k)))
		}
		switch k {
		case envelope.HeaderEnvelope:
			v = "<the envelope below, base64url>"
		case envelope.HeaderSignature:
			if !b64url.MatchString(v) || len(v) > 256 {
				t.Errorf("%s: %q is not a bounded base64url value", k, v)
			}
			v = "<ECDSA P-256 signature, ASN.1 DER, base64url>"
		case envelope.HeaderMAC:
			if !b64url.MatchString(v) || len(v) != 43 {
				t.Errorf("%s: %q is not 32 bytes in base64url", k, v)
			}
			v = "<HMAC-SHA256 under the connection's session key, base64url>"
		case envelope.HeaderCertificate:
			if !b64url.MatchString(v) {
				t.Errorf("%s: %q is not base64url", k, v)
			}
			v = "<signer certificate, DER, base64url>"
		}
		b.WriteString(k + ": " + v + "\n")
	}
	payload, err := base64.RawURLEncoding.Strict().DecodeString(h.Get(envelope.HeaderEnvelope))
	if err != nil {
		t.Fatalf("envelope header: %v", err)
	}
	m := nonceField.FindSubmatch(payload)
	if m == nil || len(m[1]) != 22 {
		t.Fatalf("envelope %s has no 22-character nonce", payload)
	}
	payload = nonceField.ReplaceAll(payload, []byte(`"nonce":"<nonce>"`))
	b.WriteString("\n")
	b.Write(payload)
	b.WriteString("\n")
	return b.String()
}

// clientRequest returns job's request as a front end hands it over: the
// client's body in the operation's dialect, peeked at.
func clientRequest(t testing.TB, job *dispatch.Job) *inference.Request {
	t.Helper()
	d := dialectOf(job.Operation, job.Model, nil)
	body, err := inference.EncodeCanonical(job.Request, d)
	if err != nil {
		t.Fatal(err)
	}
	req, err := requestOf(bodyContentType(d), job.Operation, job.ProfileID, job.Model, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// forwardJob is the job the attack tests forward.
func forwardJob() *dispatch.Job {
	job := forwardJobCanonical()
	job.Request = clientRequest(&testing.T{}, job)
	return job
}

func forwardJobCanonical() *dispatch.Job {
	return &dispatch.Job{
		RequestID: "req-attack", Operation: "Converse", SourceRegion: src, DestinationRegion: dst,
		ProfileID: "eu.demo.chat-small", ProfileARN: "arn:aws:bedrock:" + src + ":111122223333:inference-profile/eu.demo.chat-small",
		Model: "demo.chat-small", Principal: auth.Principal{ID: "alice", Method: auth.MethodAPIKey, KeyID: "key-0123456789ab"},
		Request:  &inference.Request{Model: "eu.demo.chat-small", Messages: []inference.Message{{Role: "user", Content: []inference.Block{{Text: "hi"}}}}},
		SourceIP: "198.51.100.7", SecureTransport: true,
	}
}

// sealing is how the source seals an envelope on a connection.
type sealing struct {
	name string
	seal func(t *testing.T, l *link, e envelope.Envelope, cs *tls.ConnectionState) envelope.Sealed
}

var sealings = []sealing{
	{"session MAC", func(t *testing.T, _ *link, e envelope.Envelope, cs *tls.ConnectionState) envelope.Sealed {
		k, err := envelope.SessionKeyFrom(cs)
		if err != nil {
			t.Fatal(err)
		}
		s, err := envelope.Seal(e, &k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
	{"certificate signature", func(t *testing.T, l *link, e envelope.Envelope, _ *tls.ConnectionState) envelope.Sealed {
		s, err := envelope.Sign(e, l.source.Certificate())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}},
}

// conn is one link connection from the source to l, driven by hand so a
// test can change what is sent after it is sealed: an attacker on the link.
type conn struct {
	t  *testing.T
	tc *tls.Conn
	br *bufio.Reader
}

func (l *link) dial(t *testing.T) *conn {
	t.Helper()
	cfg := l.source.ClientTLSConfig(dst)
	cfg.NextProtos = []string{"http/1.1"}
	tc, err := tls.Dial("tcp", l.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close() })
	return &conn{t: t, tc: tc, br: bufio.NewReader(tc)}
}

func (c *conn) state() *tls.ConnectionState {
	cs := c.tc.ConnectionState()
	return &cs
}

// send writes one request with header h and body on c and reads the answer.
func (c *conn) send(h http.Header, body []byte) (int, wireError) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "https://"+dst+PathInvoke, bytes.NewReader(body))
	req.Header = h
	if err := req.Write(c.tc); err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var we wireError
	if resp.StatusCode != http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&we); err != nil {
			c.t.Fatalf("status %d with an undecodable body: %v", resp.StatusCode, err)
		}
	} else {
		io.Copy(io.Discard, resp.Body)
	}
	return resp.StatusCode, we
}

// sealedRequest returns the headers and body the source sends for job on
// c, sealed as s does.
func sealedRequest(t *testing.T, l *link, c *conn, s sealing, job *dispatch.Job) (http.Header, []byte) {
	t.Helper()
	body := job.Request.Body
	h := http.Header{"Content-Type": {bodyContentType(job.Request.Dialect)}}
	s.seal(t, l, envelopeOf(job, body, t0), c.state()).SetHeaders(h)
	return h, body
}

// alterEnvelope rewrites one field of the envelope JSON in h, keeping the
// seal: what an attacker who could change bytes in flight would send.
func alterEnvelope(t *testing.T, h http.Header, field string, value any) {
	t.Helper()
	payload, err := base64.RawURLEncoding.DecodeString(h.Get(envelope.HeaderEnvelope))
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(payload, &fields); err != nil {
		t.Fatal(err)
	}
	if _, ok := fields[field]; !ok {
		t.Fatalf("envelope has no field %q", field)
	}
	v, _ := json.Marshal(value)
	old := append([]byte(`"`+field+`":`), fields[field]...)
	altered := bytes.Replace(payload, old, append([]byte(`"`+field+`":`), v...), 1)
	if bytes.Equal(altered, payload) {
		t.Fatalf("altering %s to %s changed nothing", field, v)
	}
	h.Set(envelope.HeaderEnvelope, base64.RawURLEncoding.EncodeToString(altered))
}

// TestAlteredEnvelopeFieldsRefused: an attacker on the link who changes any
// field the destination authorizes or audits on (those that were plain
// headers before version 2, and the principal) is refused before anything
// is served.
func TestAlteredEnvelopeFieldsRefused(t *testing.T) {
	t.Parallel()
	l := startLink(t, true)
	tests := []struct {
		name  string
		field string
		value any
	}{
		{"client IP", "client_ip", "10.0.0.1"},
		{"client TLS flag", "client_tls", false},
		{"auth method", "auth_method", "mtls"},
		{"key id", "key_id", "key-ffffffffffff"},
		{"operation", "operation", "ConverseStream"},
		{"principal", "principal_id", "admin"},
		{"model", "model", "demo.chat-large"},
		{"version downgraded to 1", "v", 1},
	}
	for _, s := range sealings {
		for _, tc := range tests {
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				c := l.dial(t)
				job := forwardJob()
				job.RequestID = "req-" + s.name + "-" + tc.field
				h, body := sealedRequest(t, l, c, s, job)
				alterEnvelope(t, h, tc.field, tc.value)
				code, we := c.send(h, body)
				if code != http.StatusForbidden || we.Code != "link_bad_signature" {
					t.Errorf("envelope with %s altered to %v: status %d %+v, want 403 link_bad_signature", tc.field, tc.value, code, we)
				}
				for _, j := range l.local.served() {
					if j.RequestID == job.RequestID {
						t.Errorf("destination served the altered request: %+v", j)
					}
				}
			})
		}
	}
}

// TestPlainJobHeadersIgnored: headers that carried the job's metadata before
// version 2, added by an attacker next to a genuine envelope, change
// nothing; the destination acts on the signed values.
func TestPlainJobHeadersIgnored(t *testing.T) {
	t.Parallel()
	l := startLink(t, true)
	for i, s := range sealings {
		t.Run(s.name, func(t *testing.T) {
			c := l.dial(t)
			job := forwardJob()
			job.RequestID = fmt.Sprintf("req-%d", i)
			h, body := sealedRequest(t, l, c, s, job)
			for k, v := range map[string]string{
				"Meridian-Request-Id": "req-forged", "Meridian-Operation": "ConverseStream",
				"Meridian-Source-Region": "us-east-1", "Meridian-Destination-Region": "us-east-1",
				"Meridian-Principal": "admin", "Meridian-Auth-Method": "3", "Meridian-Key-Id": "key-ffffffffffff",
				"Meridian-Profile": "us.demo.chat-small", "Meridian-Profile-Arn": "arn:aws:bedrock:us-east-1:111122223333:inference-profile/us.demo.chat-small",
				"Meridian-Model": "demo.chat-large", "Meridian-Client-Ip": "10.0.0.1", "Meridian-Client-Tls": "false",
			} {
				h.Set(k, v)
			}
			if code, we := c.send(h, body); code != http.StatusOK {
				t.Fatalf("genuine envelope with extra headers: status %d %+v", code, we)
			}
			var served *dispatch.Job
			for _, j := range l.local.served() {
				if j.RequestID == job.RequestID {
					served = j
				}
			}
			if diff := cmp.Diff(job, served); diff != "" {
				t.Errorf("served job differs from the sealed one (-sealed +served):\n%s", diff)
			}
		})
	}
}

// TestEnvelopeRefusals checks refusals that come after the signature: an
// authentication method the destination does not know, and the error a
// refused forward gives the source.
func TestEnvelopeRefusals(t *testing.T) {
	t.Parallel()
	l := startLink(t, true)
	job := forwardJob()
	job.Principal.Method = auth.Method(200)
	_, err := l.client(t, false).Executor(dst).Complete(t.Context(), job)
	var ie *inference.Error
	if !errors.As(err, &ie) || ie.Kind != inference.KindPermissionDenied || ie.Code != "link_malformed" {
		t.Fatalf("forward with an unknown auth method = %v, want permission denied link_malformed", err)
	}
	if n := len(l.local.served()); n != 0 {
		t.Errorf("destination served %d jobs", n)
	}
}

// nowClock is a clock whose Now is now (the test's skewed destination
// clock); its timers are the wall clock's.
func nowClock(now func() time.Time) clock.Clock { return funcClock{clock.Wall, now} }

type funcClock struct {
	clock.Clock
	now func() time.Time
}

func (c funcClock) Now() time.Time { return c.now() }

// checkGolden compares got with the golden file at path (rewriting it
// first under -update), reporting a difference as what's, and returns the
// golden bytes.
func checkGolden(t *testing.T, path, got, what string) []byte {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from %s (-want +got):\n%s", what, path, diff)
	}
	return want
}
