package envelope_test

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

// connPair makes one link connection from region src to region dst over
// loopback and returns its state at the client and at the server.
func connPair(t testing.TB, w *world, src, dst string) (client, server *tls.ConnectionState) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		cs  tls.ConnectionState
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		sc := tls.Server(c, w.stores[dst].ServerTLSConfig(func(r string) bool { return r == src }))
		err = sc.Handshake()
		done <- result{sc.ConnectionState(), err}
	}()
	cc, err := tls.Dial("tcp", ln.Addr().String(), w.stores[src].ClientTLSConfig(dst))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	ccs := cc.ConnectionState()
	return &ccs, &r.cs
}

func sessionKey(t testing.TB, cs *tls.ConnectionState) *envelope.SessionKey {
	t.Helper()
	k, err := envelope.SessionKeyFrom(cs)
	if err != nil {
		t.Fatal(err)
	}
	return &k
}

func TestVerifyConnection(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "eu-west-1", "eu-central-1", "us-east-1")
	src, dst := "eu-west-1", "eu-central-1"
	body := []byte(`{"messages":[]}`)
	client, server := connPair(t, w, src, dst)
	otherClient, otherServer := connPair(t, w, src, dst)
	if *sessionKey(t, client) != *sessionKey(t, server) {
		t.Fatal("the two ends of a connection derived different session keys")
	}
	if *sessionKey(t, client) == *sessionKey(t, otherClient) {
		t.Fatal("two connections derived the same session key")
	}
	seal := func(t *testing.T, cs *tls.ConnectionState) envelope.Sealed {
		s, err := envelope.Seal(request(src, dst, body, t0), sessionKey(t, cs))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name   string
		sealed func(t *testing.T) envelope.Sealed
		conn   *tls.ConnectionState
		want   envelope.Reason
	}{
		{name: "genuine", sealed: func(t *testing.T) envelope.Sealed { return seal(t, client) }},
		{name: "signed with the certificate instead, on this connection",
			sealed: func(t *testing.T) envelope.Sealed { return mustSign(t, request(src, dst, body, t0), w.cert(src)) }},
		{name: "sealed for another connection", want: envelope.ReasonBadSignature,
			sealed: func(t *testing.T) envelope.Sealed { return seal(t, otherClient) }},
		{name: "received on another connection", conn: otherServer, want: envelope.ReasonBadSignature,
			sealed: func(t *testing.T) envelope.Sealed { return seal(t, client) }},
		{name: "plain HTTP", conn: &tls.ConnectionState{}, want: envelope.ReasonUnauthenticated,
			sealed: func(t *testing.T) envelope.Sealed { return seal(t, client) }},
		{name: "envelope of another sealed request", want: envelope.ReasonBadSignature,
			sealed: func(t *testing.T) envelope.Sealed {
				s := seal(t, client)
				other := request(src, dst, body, t0)
				other.PrincipalID = "key/mallory"
				o, err := envelope.Seal(other, sessionKey(t, client))
				if err != nil {
					t.Fatal(err)
				}
				s.Envelope = o.Envelope
				return s
			}},
		{name: "MAC with padding", want: envelope.ReasonMalformed,
			sealed: func(t *testing.T) envelope.Sealed {
				s := seal(t, client)
				s.MAC += "="
				return s
			}},
		{name: "MAC too long", want: envelope.ReasonMalformed,
			sealed: func(t *testing.T) envelope.Sealed {
				s := seal(t, client)
				s.MAC += "AAAA"
				return s
			}},
		{name: "MAC and certificate", want: envelope.ReasonMalformed,
			sealed: func(t *testing.T) envelope.Sealed {
				s := seal(t, client)
				s.Certificate = mustSign(t, request(src, dst, body, t0), w.cert(src)).Certificate
				return s
			}},
	}
	// Each case runs with the key exported per request, and with the
	// connection's key cached (a ConnKey already used on that connection),
	// as a destination's link server does.
	for _, tc := range tests {
		for _, cached := range []bool{false, true} {
			name := tc.name
			if cached {
				name += ", key cached"
			}
			t.Run(name, func(t *testing.T) {
				verifyConnectionCase(t, w, dst, body, server, tc.conn, tc.sealed, tc.want, cached)
			})
		}
	}
}

// verifyConnectionCase runs one case of TestVerifyConnection: the sealed
// envelope received on conn (nil: server), with the connection's key
// exported per request or cached in a ConnKey already used on it.
func verifyConnectionCase(t *testing.T, w *world, dst string, body []byte, server, conn *tls.ConnectionState,
	sealedFn func(t *testing.T) envelope.Sealed, want envelope.Reason, cached bool) {
	v := envelope.NewVerifier(envelope.VerifierOptions{Region: dst, Checker: geoChecker(dst), VerifySigner: w.stores[dst].VerifyPeer})
	cs := conn
	if cs == nil {
		cs = server
	}
	var ck *envelope.ConnKey
	if cached {
		ck = new(envelope.ConnKey)
		ck.Get(cs)
	}
	verify := func(s envelope.Sealed) (*envelope.Envelope, error) {
		return v.VerifyConnectionKey(s, cs, ck, envelope.HashBody(body), t0)
	}
	sealed := sealedFn(t)
	e, err := verify(sealed)
	if got, _ := envelope.ReasonOf(err); got != want {
		t.Fatalf("VerifyConnection = %v, reason %v; want reason %v", err, got, want)
	}
	if want != 0 {
		return
	}
	if e == nil || e.RequestID != "req-1" {
		t.Fatalf("VerifyConnection returned %+v", e)
	}
	if _, err := verify(sealed); !isReason(err, envelope.ReasonReplay) {
		t.Fatalf("second VerifyConnection = %v, want replay", err)
	}
}

func isReason(err error, r envelope.Reason) bool {
	got, _ := envelope.ReasonOf(err)
	return got == r
}

// TestSealVerifyAllocs pins the allocations of one forwarded request's
// envelope with a session MAC: sealed at the source, VerifyConnectionKey at
// the destination, with the session key of the connection either derived
// at both ends for the request, or held per connection (a [envelope.ConnKey]
// at the destination; at the source the key, sealed with Prepared.MAC, or
// a ConnKey, sealed with ConnKey.MAC). A change here is a change of the
// cost of every forwarded request: look before raising it.
func TestSealVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	w := newWorld(t, "eu-west-1", "eu-central-1")
	client, server := connPair(t, w, "eu-west-1", "eu-central-1")
	v := envelope.NewVerifier(envelope.VerifierOptions{Region: "eu-central-1", Checker: geoChecker("eu-central-1"), ReplayCapacity: 1 << 20})
	e := request("eu-west-1", "eu-central-1", nil, t0)
	held := *sessionKey(t, client)
	var ck, sourceCK envelope.ConnKey
	if _, err := ck.Get(server); err != nil {
		t.Fatal(err)
	}
	type sealing int
	const (
		keyPerRequest sealing = iota // SessionKeyFrom, Seal; no ConnKey
		keyHeld                      // Seal with the held key
		connKey                      // Prepare, ConnKey.MAC
	)
	tests := []struct {
		name string
		seal sealing
		// At the destination 2: the string the envelope's fields share
		// and the envelope; with the key per request
		// also the HMAC (crypto/hmac's state, its two hashes and pads:
		// 6) and the peer's identity (1). At the source 2 for the payload
		// and its header, 1 for the MAC's header value, and the HMAC's 6
		// unless a ConnKey holds its keyed states. 2 × 26 for the session
		// key (TLS exporter, HKDF) when it is derived per request.
		maxAllocs float64
	}{
		{"key per request", keyPerRequest, 72},
		{"key per connection, sealed with Prepared.MAC", keyHeld, 11},
		{"key per connection, sealed with ConnKey.MAC", connKey, 5},
	}
	for _, tc := range tests {
		allocs := testing.AllocsPerRun(200, func() {
			var s envelope.Sealed
			ckp := &ck
			switch tc.seal {
			case keyPerRequest:
				k, err := envelope.SessionKeyFrom(client)
				if err != nil {
					t.Fatal(err)
				}
				if s, err = envelope.Seal(e, &k); err != nil {
					t.Fatal(err)
				}
				ckp = nil
			case keyHeld:
				var err error
				if s, err = envelope.Seal(e, &held); err != nil {
					t.Fatal(err)
				}
			case connKey:
				p, err := envelope.Prepare(e)
				if err != nil {
					t.Fatal(err)
				}
				s.Envelope = p.Header()
				if s.MAC, err = sourceCK.MAC(p, client); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := v.VerifyConnectionKey(s, server, ckp, e.BodySHA256, t0); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: %v allocations", tc.name, allocs)
		if allocs > tc.maxAllocs {
			t.Errorf("%s: session-MAC seal and verify allocate %v times per request, want at most %v", tc.name, allocs, tc.maxAllocs)
		}
	}
}

// TestVerifyConnectionKeyAllocs pins the destination's part alone, as the
// link server runs it (a ConnKey per connection): 2 allocations, the
// string the envelope's fields share and the envelope it returns. The
// header is decoded into a pooled buffer; the MAC's keyed states, its sum
// and the peer's identity are the connection's, made once.
func TestVerifyConnectionKeyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	w := newWorld(t, "eu-west-1", "eu-central-1")
	client, server := connPair(t, w, "eu-west-1", "eu-central-1")
	v := envelope.NewVerifier(envelope.VerifierOptions{Region: "eu-central-1", Checker: geoChecker("eu-central-1"), ReplayCapacity: 1 << 12})
	e := linkEnvelope([]byte("body"))
	const runs = 200
	sealed := make([]envelope.Sealed, runs+1) // AllocsPerRun runs once more to warm up
	for i := range sealed {
		sealed[i] = mustSeal(t, e, sessionKey(t, client))
	}
	var ck envelope.ConnKey
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		if _, err := v.VerifyConnectionKey(sealed[i], server, &ck, e.BodySHA256, t0); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs > 2 {
		t.Errorf("VerifyConnectionKey allocates %v times per envelope, want at most 2", allocs)
	}
}

// TestConnKeyMAC: ConnKey.MAC is Prepared.MAC under the key of the
// connection, on its first use and on later ones, and the destination
// accepts it; without a TLS 1.3 session it fails every time.
func TestConnKeyMAC(t *testing.T) {
	w := newWorld(t, "eu-west-1", "eu-central-1")
	client, server := connPair(t, w, "eu-west-1", "eu-central-1")
	v := envelope.NewVerifier(envelope.VerifierOptions{Region: "eu-central-1", Checker: geoChecker("eu-central-1")})
	var source, destination envelope.ConnKey
	for i := range 3 {
		e := linkEnvelope([]byte("body"))
		p, err := envelope.Prepare(e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := source.MAC(p, client)
		if want := p.MAC(sessionKey(t, client)); err != nil || got != want {
			t.Fatalf("use %d: ConnKey.MAC = %q, %v; Prepared.MAC = %q", i, got, err, want)
		}
		s := envelope.Sealed{Envelope: p.Header(), MAC: got}
		if _, err := v.VerifyConnectionKey(s, server, &destination, e.BodySHA256, t0); err != nil {
			t.Fatalf("use %d: VerifyConnectionKey: %v", i, err)
		}
	}
	var plain envelope.ConnKey
	p, err := envelope.Prepare(linkEnvelope(nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if mac, err := plain.MAC(p, &tls.ConnectionState{}); err == nil || mac != "" {
			t.Fatalf("use %d: ConnKey.MAC without a TLS session = %q, %v; want an error", i, mac, err)
		}
	}
}

// TestVerifiedEnvelopeOutlivesBuffer: headers are decoded into pooled
// buffers, reused as soon as the reader returns; an envelope returned,
// accepted or refused after its seal verified, and one decoded, keep
// their fields when other envelopes are read into the same buffers.
func TestVerifiedEnvelopeOutlivesBuffer(t *testing.T) {
	w := newWorld(t, "eu-west-1", "eu-central-1")
	client, server := connPair(t, w, "eu-west-1", "eu-central-1")
	v := envelope.NewVerifier(envelope.VerifierOptions{Region: "eu-central-1", Checker: geoChecker("eu-central-1"), VerifySigner: w.stores["eu-central-1"].VerifyPeer})
	k := sessionKey(t, client)
	var ck envelope.ConnKey
	first := linkEnvelope([]byte("body"))
	first.RequestID, first.PrincipalID = "req-first", "key/first"
	stale := first
	stale.IssuedAt = t0.Add(-time.Hour)
	// Of the same lengths, so that the same bytes of a buffer are reused.
	other := first
	other.RequestID, other.PrincipalID, other.Model, other.KeyID = "req-other", "key/other", "demo.chat-large", "key-ffffffffffff"
	read := map[string]func(e envelope.Envelope) (*envelope.Envelope, error){
		"verified with a MAC": func(e envelope.Envelope) (*envelope.Envelope, error) {
			return v.VerifyConnectionKey(mustSeal(t, e, k), server, &ck, e.BodySHA256, t0)
		},
		"verified with a signature": func(e envelope.Envelope) (*envelope.Envelope, error) {
			return v.VerifyConnectionKey(mustSign(t, e, w.cert("eu-west-1")), server, &ck, e.BodySHA256, t0)
		},
		"decoded": func(e envelope.Envelope) (*envelope.Envelope, error) {
			s, err := envelope.Unsigned(e)
			if err != nil {
				return nil, err
			}
			d, err := envelope.Decode(s.Envelope)
			return &d, err
		},
	}
	for name, readFn := range read {
		for _, e := range []envelope.Envelope{first, stale} {
			got, err := readFn(e)
			if got == nil {
				t.Fatalf("%s: no envelope: %v", name, err)
			}
			want := *got
			want.RequestID, want.PrincipalID = string([]byte(got.RequestID)), string([]byte(got.PrincipalID))
			want.ProfileARN, want.Model, want.KeyID = string([]byte(got.ProfileARN)), string([]byte(got.Model)), string([]byte(got.KeyID))
			for range 20 {
				if _, err := readFn(other); err != nil {
					t.Fatalf("%s: reading another envelope: %v", name, err)
				}
			}
			if *got != want {
				t.Fatalf("%s: the envelope read first changed once others were read:\n got %+v\nwant %+v", name, *got, want)
			}
		}
	}
}

func mustSeal(t testing.TB, e envelope.Envelope, k *envelope.SessionKey) envelope.Sealed {
	t.Helper()
	s, err := envelope.Seal(e, k)
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	return s
}

// FuzzVerifyConnection feeds arbitrary envelope and MAC header values to
// the verifier on a genuine connection, with the key exported for the
// request and held in a ConnKey: it must not panic, every refusal has a
// reason, and nothing but the genuine seal is accepted.
func FuzzVerifyConnection(f *testing.F) {
	w := newWorld(f, "eu-west-1", "eu-central-1")
	client, server := connPair(f, w, "eu-west-1", "eu-central-1")
	body := []byte("body")
	sealed, err := envelope.Seal(request("eu-west-1", "eu-central-1", body, t0), sessionKey(f, client))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed.Envelope, sealed.MAC)
	f.Add(sealed.Envelope, sealed.MAC+"A")
	f.Add(sealed.Envelope, sealed.MAC[:42])
	f.Add(sealed.Envelope+"A", sealed.MAC)
	f.Add("", "")
	f.Add(sealed.Envelope, "!!!")
	// One ConnKey for every input, as a connection's requests share one:
	// its keyed HMAC states and pooled buffers are reused across them.
	var ck envelope.ConnKey
	f.Fuzz(func(t *testing.T, env, mac string) {
		for _, ckp := range []*envelope.ConnKey{nil, &ck} {
			v := envelope.NewVerifier(envelope.VerifierOptions{Region: "eu-central-1", Checker: geoChecker("eu-central-1")})
			_, err := v.VerifyConnectionKey(envelope.Sealed{Envelope: env, MAC: mac}, server, ckp, envelope.HashBody(body), t0)
			if err == nil && (env != sealed.Envelope || mac != sealed.MAC) {
				t.Fatalf("VerifyConnectionKey (ConnKey %v) accepted envelope %q with MAC %q", ckp != nil, env, mac)
			}
			if err != nil {
				if _, ok := envelope.ReasonOf(err); !ok {
					t.Fatalf("VerifyConnectionKey error without reason: %v", err)
				}
			}
		}
	})
}

// TestPrepareAllocs pins Prepare to two allocations for an envelope of the
// usual size: the payload and its header.
func TestPrepareAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	e := request("eu-west-1", "eu-central-1", nil, t0)
	if allocs := testing.AllocsPerRun(100, func() {
		if _, err := envelope.Prepare(e); err != nil {
			t.Fatal(err)
		}
	}); allocs != 2 {
		t.Errorf("Prepare allocates %v times, want 2", allocs)
	}
}
