package node

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"net/http"

	"github.com/meridian-gateway/meridian/internal/receipt"
)

// TrustView is the body of GET /meridian/v1/trust: what a client needs to
// verify residency receipts without asking an administrator (see
// docs/receipts.md). Check LinkCAFingerprints against a fingerprint
// obtained out of band before trusting LinkCAPEM: this node may be the
// party a receipt protects against.
type TrustView struct {
	// Region is the region of the node that answered.
	Region string `json:"region"`
	// TrustDomain is the link's trust domain: a receipt's signer
	// certificate names spiffe://<trust_domain>/region/<region>.
	TrustDomain string `json:"trust_domain"`
	// LinkCAPEM is the link CA bundle in PEM (two CAs during a rotation).
	LinkCAPEM string `json:"link_ca_pem"`
	// LinkCAFingerprints are the SHA-256 of each CA certificate's DER, hex,
	// in the bundle's order (openssl x509 -fingerprint -sha256, without
	// the colons, lower case).
	LinkCAFingerprints []string `json:"link_ca_sha256"`
	// ResidencyDigest is the topology's residency digest (profile.Catalog
	// ResidencyDigest): equal digests mean equal rules about where each
	// profile may run.
	ResidencyDigest string `json:"residency_digest"`
}

// trust serves GET /meridian/v1/trust: JSON ([TrustView]), or the bare PEM
// bundle with ?format=pem. It needs no principal: the CA bundle and the
// digest are public, and a client verifying receipts may hold no key. A
// node without link certificates (link TLS off, development only) signs no
// receipts and answers 404.
func (n *Node) trust(w http.ResponseWriter, r *http.Request) {
	if n.linkStore == nil {
		http.Error(w, "this node has no link CA (link TLS is not configured): it signs no residency receipts", http.StatusNotFound)
		return
	}
	v := TrustView{Region: n.region.ID, TrustDomain: n.linkStore.TrustDomain(), ResidencyDigest: n.gateway().Catalog().ResidencyDigest(),
		LinkCAFingerprints: []string{}}
	var buf bytes.Buffer
	for _, c := range n.linkStore.CAs() {
		pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		sum := sha256.Sum256(c.Raw)
		v.LinkCAFingerprints = append(v.LinkCAFingerprints, hex.EncodeToString(sum[:]))
	}
	bundle := buf.Bytes()
	v.LinkCAPEM = string(bundle)
	w.Header().Set("Cache-Control", "max-age=60")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	switch r.URL.Query().Get("format") {
	case "pem":
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Write(bundle)
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(v)
	default:
		http.Error(w, `format must be "json" (the default) or "pem"`, http.StatusBadRequest)
	}
}

// receiptIssuer returns the signer of this node's residency receipts: its
// current link certificate and the wall clock. It is nil when the node has
// no link certificates (it then issues no receipts). The request path
// passes it to the front ends (see docs/receipts.md, "the seam").
func (n *Node) receiptIssuer() *receipt.Issuer {
	if n.linkStore == nil {
		return nil
	}
	return &receipt.Issuer{Certificate: n.linkStore.Certificate, Clock: n.clock}
}
