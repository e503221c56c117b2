package node

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/pki"
	"github.com/meridian-gateway/meridian/internal/receipt"
)

func TestTrustEndpoint(t *testing.T) {
	c := startCluster(t, []regionSpec{{"eu-central-1", "eu"}}, "")
	n := c.nodes["eu-central-1"]
	get := func(t *testing.T, query string) (int, http.Header, []byte) {
		t.Helper()
		resp, err := http.Get(c.url("eu-central-1") + "/meridian/v1/trust" + query) // no API key: public
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	wantPEM, err := os.ReadFile(c.link.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	cas, err := pki.ParseCertificates(wantPEM)
	if err != nil || len(cas) != 1 {
		t.Fatalf("CA file: %d certificates, %v", len(cas), err)
	}
	sum := sha256.Sum256(cas[0].Raw)

	status, _, body := get(t, "")
	var v TrustView
	if err := json.Unmarshal(body, &v); status != http.StatusOK || err != nil {
		t.Fatalf("GET /meridian/v1/trust = %d %s (%v)", status, body, err)
	}
	got, err := pki.ParseCertificates([]byte(v.LinkCAPEM))
	if err != nil || len(got) != 1 || !got[0].Equal(cas[0]) {
		t.Errorf("link_ca_pem = %q, want the CA of %s", v.LinkCAPEM, c.link.CAFile)
	}
	if want := []string{hex.EncodeToString(sum[:])}; len(v.LinkCAFingerprints) != 1 || v.LinkCAFingerprints[0] != want[0] {
		t.Errorf("link_ca_sha256 = %v, want %v", v.LinkCAFingerprints, want)
	}
	if want := n.gateway().Catalog().ResidencyDigest(); v.ResidencyDigest != want || want == "" {
		t.Errorf("residency_digest = %q, want %q", v.ResidencyDigest, want)
	}
	if v.Region != "eu-central-1" || v.TrustDomain != pki.DefaultTrustDomain {
		t.Errorf("region, trust_domain = %q, %q", v.Region, v.TrustDomain)
	}

	status, hdr, body := get(t, "?format=pem")
	if status != http.StatusOK || hdr.Get("Content-Type") != "application/x-pem-file" || string(body) != v.LinkCAPEM {
		t.Errorf("GET ?format=pem = %d %q %q, want the PEM bundle", status, hdr.Get("Content-Type"), body)
	}
	if status, _, _ = get(t, "?format=der"); status != http.StatusBadRequest {
		t.Errorf("GET ?format=der = %d, want 400", status)
	}

	// The seam the request path will use: a receipt signed with the node's
	// current link certificate verifies against the published bundle.
	claims := receipt.Claims{RequestID: "req-1", ProfileARN: "arn:aws:bedrock:eu-central-1:111122223333:inference-profile/eu.demo.chat-small",
		SourceRegion: "eu-central-1", InferenceRegion: "eu-central-1", Model: "demo.chat-small",
		RequestSHA256: receipt.BodyHash([]byte("q")), AnswerForm: receipt.AnswerBody, AnswerSHA256: receipt.BodyHash([]byte("a")),
		Audit: receipt.AuditRef{EventID: "req-1", Hash: receipt.BodyHash([]byte("e"))}}
	tok, err := n.receiptIssuer().Issue(claims)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(v.LinkCAPEM))
	if _, err := receipt.Verify(tok, pool, time.Now()); err != nil {
		t.Errorf("Verify(receipt signed by the node) against /meridian/v1/trust: %v", err)
	}
}

// TestTrustWithoutLinkPKI: a node without link certificates signs no
// receipts and says so.
func TestTrustWithoutLinkPKI(t *testing.T) {
	rec := httptest.NewRecorder()
	(&Node{}).trust(rec, httptest.NewRequest("GET", "/meridian/v1/trust", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /meridian/v1/trust without link PKI = %d, want 404", rec.Code)
	}
	if iss := (&Node{}).receiptIssuer(); iss != nil {
		t.Errorf("receiptIssuer() without link PKI = %v, want nil", iss)
	}
}
