package receipt_test

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/receipt"
)

var update = flag.Bool("update", false, "rewrite testdata/receipt (new keys, new receipts)")

// goldenNow is when the golden receipts are verified.
var goldenNow = base.Add(2 * time.Hour)

// TestGolden verifies receipts kept in testdata/receipt/<case>/ (ca.pem,
// receipt.jws) and compares the outcome with want.txt. The receipts were
// made once: the test pins the format, so that a change that would stop
// old receipts from verifying fails here. -update makes new ones.
func TestGolden(t *testing.T) {
	root := filepath.Join("testdata", "receipt")
	if *update {
		writeGolden(t, root)
	}
	dirs, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join(root, d.Name())
			cas, err := pki.ReadCertificates(filepath.Join(dir, "ca.pem"))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := os.ReadFile(filepath.Join(dir, "receipt.jws"))
			if err != nil {
				t.Fatal(err)
			}
			got := outcome(receipt.Verify(string(tok), poolOf(cas...), goldenNow))
			want, err := os.ReadFile(filepath.Join(dir, "want.txt"))
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("Verify(%s) =\n%s\nwant\n%s", dir, got, want)
			}
		})
	}
}

func outcome(c *receipt.Claims, err error) string {
	if err != nil {
		// Only the kind: the details quote crypto/x509, whose wording may
		// change between Go releases.
		for _, kind := range []error{receipt.ErrMalformed, receipt.ErrSignature, receipt.ErrUntrusted, receipt.ErrRegion, receipt.ErrFuture} {
			if errors.Is(err, kind) {
				return "error: " + kind.Error() + "\n"
			}
		}
		return "error: " + err.Error() + "\n"
	}
	b, _ := json.MarshalIndent(struct {
		*receipt.Claims
		IssuedAt string `json:"issued_at"`
	}{c, c.IssuedAt.UTC().Format(time.RFC3339)}, "", "  ")
	return string(b) + "\n"
}

func writeGolden(t *testing.T, root string) {
	ca := newCA(t, "")
	other := newCA(t, "")
	eu := issue(t, ca, "eu-central-1", 0)
	us := issue(t, ca, "us-east-1", 0)
	short := issue(t, ca, "eu-central-1", 30*time.Minute)
	c := claimsFor("eu-central-1", "req-golden", []byte(`{"prompt":"golden"}`), []byte(`{"answer":"golden"}`))
	good := sign(t, c, eu)
	_, m, _ := payloadOf(t, good)
	m["usage"] = map[string]any{"input_tokens": 1, "output_tokens": 1}
	edited, _ := json.Marshal(m)
	p := strings.Split(good, ".")
	cases := map[string]struct {
		ca    *pki.CA
		token string
	}{
		"valid":         {ca, good},
		"another-ca":    {other, good},
		"wrong-region":  {ca, forge(t, []*x509.Certificate{us.Cert}, []byte(mustB64Decode(t, p[1])), us.Key)},
		"edited-claim":  {ca, p[0] + "." + b64(edited) + "." + p[2]},
		"expired-cert":  {ca, sign(t, c, short)},
		"truncated-sig": {ca, good[:len(good)-4]},
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	for name, tc := range cases {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		write := func(file, s string) {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("ca.pem", string((&pki.Issued{Cert: tc.ca.Cert}).CertPEM()))
		write("receipt.jws", tc.token+"\n")
		write("want.txt", outcome(receipt.Verify(tc.token, poolOf(tc.ca.Cert), goldenNow)))
	}
}

func mustB64Decode(t *testing.T, s string) string {
	t.Helper()
	b, err := b64dec(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
