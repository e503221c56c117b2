package receipt_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/receipt"
)

// FuzzParse: a receipt comes from outside (a client, a file); parsing and
// verifying any input must not panic, and whatever verifies must parse to
// the same claims.
func FuzzParse(f *testing.F) {
	ca := newCA(f, "")
	eu := issue(f, ca, "eu-central-1", 0)
	good := sign(f, claimsFor("eu-central-1", "req-1", []byte("q"), []byte("a")), eu)
	p := strings.Split(good, ".")
	f.Add(good)
	f.Add("")
	f.Add("..")
	f.Add(p[0] + "..")
	f.Add(p[0] + "." + p[1] + ".")
	f.Add("eyJhbGciOiJub25lIn0." + p[1] + ".")
	f.Add(good + " ")
	if golden, _ := filepath.Glob(filepath.Join("testdata", "receipt", "*", "receipt.jws")); len(golden) > 0 {
		for _, g := range golden {
			b, err := os.ReadFile(g)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(b))
		}
	}
	roots := poolOf(ca.Cert)
	now := base.Add(2 * time.Hour)
	f.Fuzz(func(t *testing.T, tok string) {
		parsed, perr := receipt.Parse(tok)
		c, err := receipt.Verify(tok, roots, now)
		if err != nil {
			return
		}
		if perr != nil {
			t.Fatalf("Verify accepted what Parse refused: %v", perr)
		}
		if c.InferenceRegion != "eu-central-1" || parsed.Claims.RequestID != c.RequestID {
			t.Fatalf("Verify() = %+v, parsed %+v", c, parsed.Claims)
		}
		_ = []*x509.Certificate(parsed.Chain)
	})
}
