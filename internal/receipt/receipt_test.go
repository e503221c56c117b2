package receipt_test

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/pki/pkitest"
	"github.com/meridian-gateway/meridian/internal/receipt"
)

func TestVerify(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "")
	otherCA := newCA(t, "")
	foreignCA := newCA(t, "elsewhere")
	eu := issue(t, ca, "eu-central-1", 0)
	us := issue(t, ca, "us-east-1", 0)
	short := issue(t, ca, "eu-central-1", 30*time.Minute) // expired before the receipt's iat
	otherEU := issue(t, otherCA, "eu-central-1", 0)
	foreignEU := issue(t, foreignCA, "eu-central-1", 0)

	body, answer := []byte(`{"messages":[{"role":"user","content":"hi"}]}`), []byte(`{"content":"hello"}`)
	c := claimsFor("eu-central-1", "req-1", body, answer)
	good := sign(t, c, eu)
	now := base.Add(2 * time.Hour)

	// A payload naming eu-central-1 as the raw JSON a forger would write.
	rawPayload := func(c receipt.Claims) []byte {
		_, m, _ := payloadOf(t, good)
		m["inference_region"] = c.InferenceRegion
		b, _ := json.Marshal(m)
		return b
	}

	// A certificate of the right CA and region name but another trust
	// domain: the CA does not vouch for it.
	wrongTD := certWithURI(t, ca, us.Key, "spiffe://elsewhere/region/eu-central-1")

	tests := []struct {
		name  string
		token string
		roots *x509.CertPool
		now   time.Time
		want  error
	}{
		{name: "signed by eu-central-1", token: good, roots: poolOf(ca.Cert), now: now},
		{name: "verified long after the certificate expired", token: good, roots: poolOf(ca.Cert), now: base.AddDate(5, 0, 0)},
		{name: "CA rotation bundle", token: good, roots: poolOf(otherCA.Cert, ca.Cert), now: now},
		{name: "another CA", token: good, roots: poolOf(otherCA.Cert), now: now, want: receipt.ErrUntrusted},
		{name: "no CA", token: good, roots: nil, now: now, want: receipt.ErrUntrusted},
		{name: "certificate of another CA for the same region", token: sign(t, c, otherEU), roots: poolOf(ca.Cert), now: now, want: receipt.ErrUntrusted},
		{name: "another trust domain", token: sign(t, c, foreignEU), roots: poolOf(ca.Cert, foreignCA.Cert), now: now},
		{name: "certificate outside its CA's trust domain", token: forge(t, []*x509.Certificate{wrongTD}, rawPayload(c), us.Key), roots: poolOf(ca.Cert), now: now, want: receipt.ErrUntrusted},
		{name: "us-east-1 key claiming eu-central-1", token: forge(t, []*x509.Certificate{us.Cert}, rawPayload(c), us.Key), roots: poolOf(ca.Cert), now: now, want: receipt.ErrRegion},
		{name: "eu-central-1 certificate, us-east-1 key", token: forge(t, []*x509.Certificate{eu.Cert}, rawPayload(c), us.Key), roots: poolOf(ca.Cert), now: now, want: receipt.ErrSignature},
		{name: "expired certificate", token: sign(t, c, short), roots: poolOf(ca.Cert), now: now, want: receipt.ErrUntrusted},
		{name: "issued before the certificate", token: sign(t, withIAT(c, base.Add(-time.Hour)), eu), roots: poolOf(ca.Cert), now: now, want: receipt.ErrUntrusted},
		{name: "issued in the future", token: good, roots: poolOf(ca.Cert), now: base, want: receipt.ErrFuture},
		{name: "within the clock skew", token: good, roots: poolOf(ca.Cert), now: c.IssuedAt.Add(-receipt.MaxSkew)},
		{name: "empty", token: "", roots: poolOf(ca.Cert), now: now, want: receipt.ErrMalformed},
		{name: "two parts", token: good[:strings.LastIndexByte(good, '.')], roots: poolOf(ca.Cert), now: now, want: receipt.ErrMalformed},
		{name: "four parts", token: good + ".x", roots: poolOf(ca.Cert), now: now, want: receipt.ErrMalformed},
		{name: "too long", token: strings.Repeat("a", receipt.MaxTokenBytes+1), roots: poolOf(ca.Cert), now: now, want: receipt.ErrMalformed},
		{name: "header swapped for another certificate's", token: swapHeader(t, good, sign(t, c, issue(t, ca, "eu-central-1", 0))), roots: poolOf(ca.Cert), now: now, want: receipt.ErrSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := receipt.Verify(tc.token, tc.roots, tc.now)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify() error = %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if got.InferenceRegion != "eu-central-1" {
				t.Errorf("Verify() inference region = %q, want eu-central-1", got.InferenceRegion)
			}
		})
	}
}

func withIAT(c receipt.Claims, t time.Time) receipt.Claims { c.IssuedAt = t; return c }

func swapHeader(t *testing.T, tok, from string) string {
	t.Helper()
	p, q := strings.Split(tok, "."), strings.Split(from, ".")
	return q[0] + "." + p[1] + "." + p[2]
}

func TestVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "")
	eu := issue(t, ca, "eu-central-1", 0)
	c := claimsFor("eu-central-1", "req-1", []byte("q"), []byte("a"))
	c.IssuedAt = c.IssuedAt.Add(700 * time.Millisecond) // Sign keeps whole seconds
	got, err := receipt.Verify(sign(t, c, eu), poolOf(ca.Cert), base.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := c
	want.Version = receipt.Version
	want.IssuedAt = c.IssuedAt.Truncate(time.Second)
	if diff := cmp.Diff(want, *got); diff != "" {
		t.Errorf("Verify() claims (-want +got):\n%s", diff)
	}
}

// TestEditedClaims edits each claim of a valid receipt, keeping its
// signature: every edit must fail.
func TestEditedClaims(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "")
	eu := issue(t, ca, "eu-central-1", 0)
	tok := sign(t, claimsFor("eu-central-1", "req-1", []byte("q"), []byte("a")), eu)
	hdr, claims, sig := payloadOf(t, tok)
	edits := map[string]any{
		"ver":              2,
		"request_id":       "req-2",
		"profile_arn":      "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4",
		"source_region":    "us-east-1",
		"inference_region": "us-east-1",
		"model":            "other-model",
		"request_sha256":   receipt.BodyHash([]byte("other")),
		"answer_form":      "text",
		"answer_sha256":    receipt.BodyHash([]byte("other")),
		"usage":            map[string]any{"input_tokens": 1, "output_tokens": 1},
		"iat":              base.Add(90 * time.Minute).Unix(),
		"audit":            map[string]any{"event_id": "req-1", "hash": receipt.BodyHash([]byte("other"))},
		"extra":            "claim",
	}
	if len(edits) != len(claims)+1 {
		t.Fatalf("test edits %d claims, the receipt has %d (+1 unknown): cover every claim", len(edits)-1, len(claims))
	}
	for name, v := range edits {
		t.Run(name, func(t *testing.T) {
			m := map[string]any{}
			for k, old := range claims {
				m[k] = old
			}
			m[name] = v
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			edited := hdr + "." + b64(b) + "." + sig
			if _, err := receipt.Verify(edited, poolOf(ca.Cert), base.Add(2*time.Hour)); err == nil {
				t.Fatalf("Verify(receipt with %s edited) = nil error, want one", name)
			} else if !errors.Is(err, receipt.ErrSignature) && !errors.Is(err, receipt.ErrMalformed) {
				t.Fatalf("Verify(receipt with %s edited) error = %v, want ErrSignature or ErrMalformed", name, err)
			}
		})
	}
}

// TestSwappedReceipts: the receipt of one request does not vouch for
// another's body or answer.
func TestSwappedReceipts(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "")
	eu := issue(t, ca, "eu-central-1", 0)
	reqA, ansA := []byte(`{"prompt":"a"}`), []byte(`{"answer":"A"}`)
	reqB, ansB := []byte(`{"prompt":"b"}`), []byte(`{"answer":"B"}`)
	recA := sign(t, claimsFor("eu-central-1", "req-a", reqA, ansA), eu)
	recB := sign(t, claimsFor("eu-central-1", "req-b", reqB, ansB), eu)
	tests := []struct {
		name          string
		token         string
		req, ans      []byte
		wantReq, want error
	}{
		{"A with A", recA, reqA, ansA, nil, nil},
		{"B with B", recB, reqB, ansB, nil, nil},
		{"A with B", recA, reqB, ansB, receipt.ErrMismatch, receipt.ErrMismatch},
		{"B with A", recB, reqA, ansA, receipt.ErrMismatch, receipt.ErrMismatch},
		{"A with A's request, B's answer", recA, reqA, ansB, nil, receipt.ErrMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := receipt.Verify(tc.token, poolOf(ca.Cert), base.Add(2*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.CheckRequest(tc.req); !errors.Is(err, tc.wantReq) || (err == nil) != (tc.wantReq == nil) {
				t.Errorf("CheckRequest() = %v, want %v", err, tc.wantReq)
			}
			if err := c.CheckAnswer(tc.ans); !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Errorf("CheckAnswer() = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "")
	eu := issue(t, ca, "eu-central-1", 0)
	us := issue(t, ca, "us-east-1", 0)
	good := claimsFor("eu-central-1", "req-1", []byte("q"), []byte("a"))
	mut := func(f func(*receipt.Claims)) receipt.Claims { c := good; f(&c); return c }
	tests := []struct {
		name   string
		claims receipt.Claims
		key    *issuedKey
		chain  []*x509.Certificate
		want   error
	}{
		{name: "another region's certificate", claims: good, key: us, chain: []*x509.Certificate{us.Cert}, want: receipt.ErrRegion},
		{name: "key not matching the certificate", claims: good, key: us, chain: []*x509.Certificate{eu.Cert}},
		{name: "no certificate", claims: good, key: eu},
		{name: "missing request id", claims: mut(func(c *receipt.Claims) { c.RequestID = "" }), key: eu, chain: []*x509.Certificate{eu.Cert}, want: receipt.ErrMalformed},
		{name: "bad hash", claims: mut(func(c *receipt.Claims) { c.RequestSHA256 = "ABC" }), key: eu, chain: []*x509.Certificate{eu.Cert}, want: receipt.ErrMalformed},
		{name: "unknown answer form", claims: mut(func(c *receipt.Claims) { c.AnswerForm = "html" }), key: eu, chain: []*x509.Certificate{eu.Cert}, want: receipt.ErrMalformed},
		{name: "no time", claims: mut(func(c *receipt.Claims) { c.IssuedAt = time.Time{} }), key: eu, chain: []*x509.Certificate{eu.Cert}, want: receipt.ErrMalformed},
		{name: "audit event of another request", claims: mut(func(c *receipt.Claims) { c.Audit.EventID = "req-2" }), key: eu, chain: []*x509.Certificate{eu.Cert}, want: receipt.ErrMalformed},
		{name: "control character", claims: mut(func(c *receipt.Claims) { c.Model = "demo\x1b[2J" }), key: eu, chain: []*x509.Certificate{eu.Cert}, want: receipt.ErrMalformed},
		{name: "negative usage", claims: mut(func(c *receipt.Claims) { c.Usage.InputTokens = -1 }), key: eu, chain: []*x509.Certificate{eu.Cert}, want: receipt.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := receipt.Sign(tc.claims, tc.key.Key, tc.chain)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("Sign() error = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestSignDropsRoot: x5c carries the chain without the root.
func TestSignDropsRoot(t *testing.T) {
	t.Parallel()
	ca := newCA(t, "")
	eu := issue(t, ca, "eu-central-1", 0)
	c := claimsFor("eu-central-1", "req-1", []byte("q"), []byte("a"))
	tok, err := receipt.Sign(c, eu.Key, []*x509.Certificate{eu.Cert, ca.Cert})
	if err != nil {
		t.Fatal(err)
	}
	p, err := receipt.Parse(tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Chain) != 1 || !p.Chain[0].Equal(eu.Cert) {
		t.Errorf("Parse().Chain = %d certificates, want the leaf only", len(p.Chain))
	}
}

func TestAnswerHasher(t *testing.T) {
	t.Parallel()
	pieces := []string{"", "Hel", "lo, ", "wörld", "!"}
	h := receipt.NewAnswerHasher()
	for i, p := range pieces {
		if i%2 == 0 {
			h.WriteString(p)
		} else {
			h.Write([]byte(p))
		}
	}
	all := strings.Join(pieces, "")
	if got, want := h.Sum(), receipt.BodyHash([]byte(all)); got != want {
		t.Errorf("AnswerHasher.Sum() = %s, want %s (BodyHash of %q)", got, want, all)
	}
	if h.Len() != int64(len(all)) {
		t.Errorf("AnswerHasher.Len() = %d, want %d", h.Len(), len(all))
	}
	if got, want := receipt.NewAnswerHasher().Sum(), receipt.BodyHash(nil); got != want {
		t.Errorf("empty AnswerHasher.Sum() = %s, want %s", got, want)
	}
}

func ExampleVerify() {
	// ca, eu: the link CA and eu-central-1's link certificate and key
	// (pki.Store.Certificate() in a node).
	ca, _ := newExampleCA()
	eu, _ := ca.Issue(exampleNode("eu-central-1"))
	body, answer := []byte(`{"prompt":"hi"}`), []byte(`{"answer":"hello"}`)
	c := claimsFor("eu-central-1", "req-1", body, answer)
	tok, _ := receipt.Sign(c, eu.Key, []*x509.Certificate{eu.Cert})

	got, err := receipt.Verify(tok, poolOf(ca.Cert), base.Add(2*time.Hour))
	fmt.Println(got.InferenceRegion, err, got.CheckRequest(body) == nil)
	// Output: eu-central-1 <nil> true
}

// TestAnswerHasherNoAllocs: stream writers call it once per event.
func TestAnswerHasherNoAllocs(t *testing.T) {
	h := receipt.NewAnswerHasher()
	piece := strings.Repeat("delta ", 50)
	if n := testing.AllocsPerRun(100, func() { h.WriteString(piece) }); n != 0 {
		t.Errorf("AnswerHasher.WriteString allocates %v times per call, want 0", n)
	}
}

// TestSignTLS signs with a node's link material as pki.Store serves it.
func TestSignTLS(t *testing.T) {
	t.Parallel()
	f := pkitest.New(t, "")
	store := f.Store(t, "eu-central-1")
	c := claimsFor("eu-central-1", "req-1", []byte("q"), []byte("a"))
	c.IssuedAt = time.Now()
	tok, err := receipt.SignTLS(c, store.Certificate())
	if err != nil {
		t.Fatal(err)
	}
	got, err := receipt.Verify(tok, store.Pool(), time.Now())
	if err != nil || got.InferenceRegion != "eu-central-1" {
		t.Fatalf("Verify(SignTLS(...)) = %+v, %v", got, err)
	}
	c.InferenceRegion = "eu-west-1"
	if _, err := receipt.SignTLS(c, store.Certificate()); !errors.Is(err, receipt.ErrRegion) {
		t.Errorf("SignTLS(claims for eu-west-1 with eu-central-1's certificate) = %v, want ErrRegion", err)
	}

	// The Issuer a node holds: its clock sets iat.
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	iss := &receipt.Issuer{Certificate: store.Certificate, Clock: clock.NewManual(at)}
	c.InferenceRegion = "eu-central-1"
	tok, err = iss.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := receipt.Verify(tok, store.Pool(), time.Now()); err != nil || !got.IssuedAt.Equal(at) {
		t.Errorf("Verify(Issuer.Issue(...)) = %v, %v; want iat %v", got, err, at)
	}
	var none *receipt.Issuer
	if _, err := none.Issue(c); err == nil {
		t.Error("(*Issuer)(nil).Issue() = nil error, want one")
	}
}
