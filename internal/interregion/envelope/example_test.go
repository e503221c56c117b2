package envelope_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/pki"
)

// Example_linkServer shows how a destination node wires the link listener:
// the store serves and verifies certificates, the verifier checks each
// envelope, and refusals are counted and answered with 403.
func Example_linkServer() {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	log := slog.Default()
	rejections, _ := envelope.NewRejections(reg)

	cfg := pki.LinkConfig{CAFile: "certs/ca.crt", CertFile: "certs/{region}.crt", KeyFile: "certs/{region}.key"}
	opts := cfg.StoreOptions("eu-central-1")
	opts.Logger, opts.Registerer = log, reg
	opts.PeerRejected = func(e *pki.PeerError) {
		rejections.Peer(e)
		log.Warn("link peer refused", "reason", e.Reason, "peer", e.Peer.String(), "err", e.Err)
	}
	store, err := pki.NewStore(opts)
	if err != nil {
		return // the node does not start without link material
	}
	go store.Run(ctx) // picks up rotated files

	known := map[string]bool{"eu-west-1": true, "us-east-1": true} // from the topology
	verifier := envelope.NewVerifier(envelope.VerifierOptions{
		Region: "eu-central-1",
		Window: time.Duration(cfg.ForRegion("eu-central-1").EnvelopeWindow),
		Checker: envelope.CheckerFunc(func(e *envelope.Envelope) error {
			// Resolve e.ProfileARN in this node's own topology; refuse with
			// envelope.Rejectf(envelope.ReasonProfileExcludesDestination, ...)
			// or envelope.ReasonGeographyMismatch.
			return nil
		}),
		VerifySigner: store.VerifyPeer,
	})

	srv := &http.Server{
		Addr:      "127.0.0.1:7443",
		TLSConfig: store.ServerTLSConfig(func(region string) bool { return known[region] }),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<20))
			if err != nil {
				http.Error(w, "body", http.StatusBadRequest)
				return
			}
			// Either seal: a session MAC checked with this connection's
			// key, or a signature by the peer's certificate.
			env, err := verifier.VerifyConnection(envelope.FromHeaders(r.Header), r.TLS, envelope.HashBody(body), time.Now())
			if err != nil {
				rejections.Envelope(err)
				reason, _ := envelope.ReasonOf(err)
				log.Warn("link request refused", "reason", reason.String(), "err", err)
				http.Error(w, reason.String(), http.StatusForbidden)
				return
			}
			_ = env // run inference for env.PrincipalID / env.ProfileARN, after re-authorizing
		}),
	}
	_ = srv.ListenAndServeTLS("", "") // certificates come from the store
}

// Example_linkClient shows how a source node forwards a request with an
// envelope signed by the node's current certificate: one transport per
// destination region. (Nodes seal with the session MAC instead, once
// net/http has picked the connection: see interregion.EnvelopeSigner.)
func Example_linkClient() {
	store, err := pki.NewStore(pki.LinkConfig{CAFile: "certs/ca.crt", CertFile: "certs/{region}.crt", KeyFile: "certs/{region}.key"}.StoreOptions("eu-west-1"))
	if err != nil {
		return
	}
	toFrankfurt := &http.Client{Transport: &http.Transport{
		TLSClientConfig:   store.ClientTLSConfig("eu-central-1"),
		ForceAttemptHTTP2: true,
	}}

	body := []byte(`{"messages":[]}`)
	sealed, err := envelope.Sign(envelope.Envelope{
		RequestID:         "req-42",
		SourceRegion:      "eu-west-1",
		DestinationRegion: "eu-central-1",
		PrincipalID:       "key/alice",
		ProfileARN:        "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.demo.chat-small",
		IssuedAt:          time.Now(),
		BodySHA256:        envelope.HashBody(body),
	}, store.Certificate())
	if err != nil {
		return
	}
	req, _ := http.NewRequest("POST", "https://10.0.2.15:7443/link/v1/invoke", bytes.NewReader(body))
	sealed.SetHeaders(req.Header)
	resp, err := toFrankfurt.Do(req)
	if err == nil {
		resp.Body.Close()
	}
}
