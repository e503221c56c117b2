package interregion

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
)

// TestLinkAttacksSessionMAC runs the link's attacks against envelopes
// sealed with the session MAC, over real mutual TLS on loopback: each is
// refused with its reason and nothing is served. (The same attacks on
// certificate signatures are envelope.TestLinkAttacks.)
func TestLinkAttacksSessionMAC(t *testing.T) {
	t.Parallel()
	l := startLink(t, true)
	eu := l.dial(t)
	fromUS := func(t *testing.T) *conn {
		cfg := l.us.ClientTLSConfig(dst)
		cfg.NextProtos = []string{"http/1.1"}
		tc, err := tls.Dial("tcp", l.addr, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tc.Close() })
		return &conn{t: t, tc: tc, br: bufio.NewReader(tc)}
	}
	mac := sealings[0]

	genuine := forwardJob()
	genuine.RequestID = "req-genuine"
	gh, gbody := sealedRequest(t, l, eu, mac, genuine)
	if code, we := eu.send(gh.Clone(), gbody); code != http.StatusOK {
		t.Fatalf("genuine request: %d %+v", code, we)
	}

	type attack struct {
		// send makes the attack and returns the answer.
		send func(t *testing.T, job *dispatch.Job) (int, wireError)
		want string
	}
	sealedOn := func(c *conn, job *dispatch.Job) (http.Header, []byte) { return sealedRequest(t, l, c, mac, job) }
	tests := map[string]attack{
		"replayed on the same connection": {want: "replay", send: func(t *testing.T, _ *dispatch.Job) (int, wireError) {
			return eu.send(gh.Clone(), gbody)
		}},
		"replayed on another connection": {want: "bad_signature", send: func(t *testing.T, _ *dispatch.Job) (int, wireError) {
			return l.dial(t).send(gh.Clone(), gbody)
		}},
		"body changed": {want: "body_hash", send: func(t *testing.T, job *dispatch.Job) (int, wireError) {
			h, _ := sealedOn(eu, job)
			return eu.send(h, []byte(`{"model":"eu.demo.chat-small","messages":[{"role":"user","content":[{"text":"tampered"}]}]}`))
		}},
		"stale envelope": {want: "stale", send: func(t *testing.T, job *dispatch.Job) (int, wireError) {
			h, body := sealedOn(eu, job)
			l.skew.Store(int64(31 * time.Second))
			defer l.skew.Store(0)
			return eu.send(h, body)
		}},
		"destination other than the receiver": {want: "wrong_destination", send: func(t *testing.T, job *dispatch.Job) (int, wireError) {
			job.DestinationRegion = "eu-west-2"
			h, body := sealedOn(eu, job)
			return eu.send(h, body)
		}},
		"source region other than the connection's certificate": {want: "region_mismatch", send: func(t *testing.T, job *dispatch.Job) (int, wireError) {
			us := fromUS(t)
			h, body := sealedOn(us, job) // claims eu-west-1 on us-east-1's connection
			return us.send(h, body)
		}},
		"MAC made with another connection's key": {want: "bad_signature", send: func(t *testing.T, job *dispatch.Job) (int, wireError) {
			h, body := sealedOn(fromUS(t), job)
			return eu.send(h, body)
		}},
		"us. profile asked of an EU destination": {want: "profile_excludes_destination", send: func(t *testing.T, job *dispatch.Job) (int, wireError) {
			job.ProfileARN = "arn:aws:bedrock:eu-west-1:111122223333:inference-profile/us.demo.chat-small"
			h, body := sealedOn(eu, job)
			return eu.send(h, body)
		}},
		"eu. profile from a us region": {want: "geography_mismatch", send: func(t *testing.T, job *dispatch.Job) (int, wireError) {
			us := fromUS(t)
			job.SourceRegion = "us-east-1"
			h, body := sealedOn(us, job)
			return us.send(h, body)
		}},
		"MAC and signature both": {want: "malformed", send: func(t *testing.T, job *dispatch.Job) (int, wireError) {
			h, body := sealedOn(eu, job)
			e, _ := envelope.Decode(h.Get(envelope.HeaderEnvelope))
			e.Nonce = envelope.Nonce{}
			signed, err := envelope.Sign(e, l.source.Certificate())
			if err != nil {
				t.Fatal(err)
			}
			h.Set(envelope.HeaderSignature, signed.Signature)
			h.Set(envelope.HeaderCertificate, signed.Certificate)
			return eu.send(h, body)
		}},
		"MAC cut short": {want: "malformed", send: func(t *testing.T, job *dispatch.Job) (int, wireError) {
			h, body := sealedOn(eu, job)
			h.Set(envelope.HeaderMAC, h.Get(envelope.HeaderMAC)[:40])
			return eu.send(h, body)
		}},
		"no seal": {want: "malformed", send: func(t *testing.T, job *dispatch.Job) (int, wireError) {
			h, body := sealedOn(eu, job)
			h.Del(envelope.HeaderMAC)
			return eu.send(h, body)
		}},
	}
	names := make([]string, 0, len(tests))
	for name := range tests {
		names = append(names, name)
	}
	slices.Sort(names)
	for i, name := range names {
		tc := tests[name]
		t.Run(name, func(t *testing.T) {
			job := forwardJob()
			job.RequestID = "req-attack-" + string(rune('a'+i))
			before := len(l.local.served())
			code, we := tc.send(t, job)
			if code != http.StatusForbidden || we.Code != "link_"+tc.want {
				t.Errorf("status %d %+v, want 403 link_%s", code, we, tc.want)
			}
			if got := len(l.local.served()); got != before {
				t.Errorf("%d jobs served for a refused request", got-before)
			}
		})
	}

	// A certificate of the same region under another CA never gets a
	// connection, so it has no session key to seal with.
	t.Run("another CA", func(t *testing.T) {
		rogue := pkitest.New(t, "").Store(t, src)
		cfg := rogue.ClientTLSConfig(dst)
		cfg.NextProtos = []string{"http/1.1"}
		tc, err := tls.Dial("tcp", l.addr, cfg)
		if err == nil {
			// TLS 1.3: the server's refusal of the client certificate
			// arrives with the first read.
			defer tc.Close()
			_, err = tc.Read(make([]byte, 1))
		}
		if err == nil {
			t.Fatal("a client certificate from another CA was accepted")
		}
	})
}

// TestRotationWithSessionMAC: a source that rotates its certificate keeps
// forwarding on the connection it opened with the previous one (sealed
// with that connection's key, with nothing else to check), then on a new
// connection with the new certificate.
func TestRotationWithSessionMAC(t *testing.T) {
	t.Parallel()
	l := startLink(t, true)
	c := l.client(t, false)
	forward := func(id string) {
		t.Helper()
		job := forwardJob()
		job.RequestID = id
		if _, err := c.Executor(dst).Complete(t.Context(), job); err != nil {
			t.Fatalf("forward %s: %v", id, err)
		}
	}
	forward("before-rotation")
	l.fixture.Issue(t, src)
	if changed, err := l.source.Reload(); !changed || err != nil {
		t.Fatalf("Reload() = %v, %v", changed, err)
	}
	forward("after-rotation-old-connection")
	c.Close() // idle connections end; the next forward dials with the new certificate
	forward("after-rotation-new-connection")

	l.mu.Lock()
	peers := slices.Clone(l.peers)
	l.mu.Unlock()
	if len(peers) != 3 || peers[0] != peers[1] || peers[1] == peers[2] {
		t.Errorf("client certificate serials per request = %v, want [old old new]", peers)
	}
	want := l.source.Certificate().Leaf.SerialNumber.String()
	if len(peers) == 3 && peers[2] != want {
		t.Errorf("last request came with certificate %s, want the rotated %s", peers[2], want)
	}
}

// TestSessionMACOverBothProtocols forwards with the link client over
// HTTP/2 and HTTP/1.1: the MAC is made on the connection net/http picks,
// with either transport. A forward, streaming or not, goes over the
// HTTP/1.1 pool whatever the peer offers; with the pool full, a stream
// goes over the lanes: HTTP/2 when the peer offers it.
func TestSessionMACOverBothProtocols(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{true, false} {
		l := startLinkProto(t, true, h2)
		c := l.client(t, false)
		streamProto := 1
		if h2 {
			streamProto = 2
		}
		for _, tc := range []struct {
			name      string
			forward   func() error
			wantProto int
		}{
			{"non-streaming", func() error {
				_, err := c.Executor(dst).Complete(t.Context(), forwardJob())
				return err
			}, 1},
			{"stream", func() error {
				// The recorder answers every job with a Response: only
				// the request matters here.
				st, err := c.Executor(dst).Stream(t.Context(), forwardJob())
				if err == nil {
					st.Close()
				}
				return err
			}, 1},
			{"stream with the pool full", func() error {
				defer fillPool(t, c)()
				st, err := c.Executor(dst).Stream(t.Context(), forwardJob())
				if err == nil {
					st.Close()
				}
				return err
			}, streamProto},
		} {
			if err := tc.forward(); err != nil {
				t.Errorf("HTTP/2 offered %v, %s forward: %v", h2, tc.name, err)
			}
			l.mu.Lock()
			got := l.protoMajor
			l.mu.Unlock()
			if got != tc.wantProto {
				t.Errorf("HTTP/2 offered %v: %s forward arrived over HTTP/%d, want HTTP/%d", h2, tc.name, got, tc.wantProto)
			}
			if h := l.lastHeader(); h.Get(envelope.HeaderMAC) == "" || h.Get(envelope.HeaderSignature) != "" {
				t.Errorf("HTTP/2 offered %v, %s forward: request headers %v, want a session MAC and no signature", h2, tc.name, h)
			}
		}
	}
}

// TestSessionMACNeedsTLS13 checks that no session key is made from a
// connection that is not TLS 1.3 or not complete.
func TestSessionMACNeedsTLS13(t *testing.T) {
	t.Parallel()
	for _, cs := range []*tls.ConnectionState{nil, {}, {HandshakeComplete: true, Version: tls.VersionTLS12}} {
		if _, err := envelope.SessionKeyFrom(cs); err == nil {
			t.Errorf("SessionKeyFrom(%+v) succeeded", cs)
		}
	}
}

// TestForwardToVersion1Peer: in a rolling upgrade, a node learns from a
// peer's state probe which envelope version it accepts, and sends a node
// still on version 1 a version 1 envelope (signed, without the version 2
// fields, which that node would refuse), pinned in
// testdata/wire/to-a-version-1-peer. An upgraded peer, or one not probed
// yet, gets version 2 with a session MAC.
func TestForwardToVersion1Peer(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "wire", "to-a-version-1-peer")
	in, err := os.ReadFile(filepath.Join(dir, "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	l := startLink(t, true)
	c := l.client(t, false)
	p := c.peers[dst]
	forward := func(id string) (http.Header, *dispatch.Job) {
		t.Helper()
		var job dispatch.Job
		if err := json.Unmarshal(in, &job); err != nil {
			t.Fatal(err)
		}
		job.RequestID = id
		if _, err := c.Executor(dst).Complete(t.Context(), &job); err != nil {
			t.Fatalf("forward %s: %v", id, err)
		}
		served := l.local.served()
		return l.lastHeader(), served[len(served)-1]
	}
	macV2 := func(what string, h http.Header) {
		t.Helper()
		e, err := envelope.Decode(h.Get(envelope.HeaderEnvelope))
		if err != nil || e.Version != envelope.Version || h.Get(envelope.HeaderMAC) == "" {
			t.Errorf("%s: envelope version %d (%v), MAC %q; want version %d with a MAC", what, e.Version, err, h.Get(envelope.HeaderMAC), envelope.Version)
		}
	}

	h, _ := forward("01JDQ6W4Z8K3T9N2M5P7R1S0W0")
	macV2("before any probe", h)
	c.probe(t.Context(), p)
	h, _ = forward("01JDQ6W4Z8K3T9N2M5P7R1S0W1")
	macV2("to an upgraded peer", h)

	l.version1.Store(true)
	c.probe(t.Context(), p)
	h, served := forward("01JDQ6W4Z8K3T9N2M5P7R1S0W2")
	got := wireText(t, h)
	goldenPath := filepath.Join(dir, "request.golden")
	checkGolden(t, goldenPath, got, "forward to a version 1 peer")
	// This (upgraded) destination serves the version 1 envelope with the
	// version 2 fields absent, as the old node would.
	var job dispatch.Job
	if err := json.Unmarshal(in, &job); err != nil {
		t.Fatal(err)
	}
	job.RequestID = "01JDQ6W4Z8K3T9N2M5P7R1S0W2"
	// A node that does not advertise client bodies (as a version 1 node
	// does not) is sent the canonical request, as before them.
	job.Operation, job.Model, job.SourceIP, job.SecureTransport = "", "", "", false
	job.Principal.Method, job.Principal.KeyID = 0, ""
	if diff := cmp.Diff(&job, served); diff != "" {
		t.Errorf("job served from a version 1 envelope (-want +got):\n%s", diff)
	}
}

func TestAdvertisedVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header string
		want   int
	}{
		{"", 1}, {"1", 1}, {"2", 2}, {"3", 3}, {"4", 4}, {"5", 5}, {"6", 6}, {"7", 7}, {"8", linkVersion}, {"0", 1}, {"-1", 1}, {"two", 1}, {"99999999999999999999", 1},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set(HeaderEnvelopeVersion, tc.header)
		}
		if got := advertisedVersion(h); got != tc.want {
			t.Errorf("advertisedVersion(%q) = %d, want %d", tc.header, got, tc.want)
		}
	}
}

// TestEnvelopeVersionOfLinkVersion: a peer's link version says which
// envelope versions it accepts. Link versions 6 and 7 mark capabilities
// without a new envelope, so a node advertising one accepts up to 5 and must never
// be sealed a later envelope version, however new the sender is; every
// other version is the envelope version itself.
func TestEnvelopeVersionOfLinkVersion(t *testing.T) {
	t.Parallel()
	for v, want := range map[int]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 5, 7: 5, 8: 8} {
		if got := envelopeVersionOf(v); got != want {
			t.Errorf("envelopeVersionOf(%d) = %d, want %d", v, got, want)
		}
	}
	if envelope.Version == reasoningVersion || envelope.Version == systemRoleVersion {
		t.Errorf("envelope.Version is %d, the capability-only link version: the next envelope version is %d", envelope.Version, systemRoleVersion+1)
	}
}

// TestLegacyPeerGetsCanonicalOrFailover: a peer that does not advertise
// client bodies (a node from before them) is sent the canonical request;
// a request the canonical form cannot carry (tools) is not sent there but
// fails as unavailable, so that the source fails over to another region.
func TestLegacyPeerGetsCanonicalOrFailover(t *testing.T) {
	t.Parallel()
	l := startLink(t, true)
	c := l.client(t, false)
	p := c.peers[dst]
	l.version1.Store(true)
	c.probe(t.Context(), p)
	job := forwardJobCanonical()
	body := `{"model":"eu.demo.chat-small","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f"}}]}`
	req, err := inference.Peek(inference.DialectOpenAIChat, "", []byte(body), false)
	if err != nil {
		t.Fatal(err)
	}
	job.Operation, job.Request = "ChatCompletions", req
	_, err = c.Executor(dst).Complete(t.Context(), job)
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.KindUnavailable || !e.Kind.Retryable() {
		t.Fatalf("forward with tools to a legacy peer: %v, want a retryable unavailable", err)
	}
}
