// Package envelope seals and verifies the envelope that travels with every
// request forwarded over the inter-region link: who asked (principal, how
// they authenticated, from which client address, source region), what for
// (operation, profile ARN, model, request id, body hash), for whom
// (destination region), and when (issued-at, nonce).
//
// The source seals the envelope one of two ways. [Seal] computes an
// HMAC-SHA256 under a [SessionKey] exported from the TLS 1.3 session of the
// link connection that carries the request: the connection is mutually
// authenticated by the regions' certificates, so the MAC proves the
// envelope came from the peer on that connection. [Sign] signs with the
// ECDSA P-256 key of the source's link certificate (the certificate is the
// binding between key and region; see docs/security.md). The destination
// verifies either with [Verifier.VerifyConnection] ([Verifier.Verify] for a
// signature alone): the seal, source region equal to the TLS peer's
// region, freshness, destination equal to itself, body hash, topology
// checks supplied by the caller ([Checker]), and finally the nonce against
// a bounded [ReplayCache]. Every refusal is an [*Error] whose [Reason] is a
// bounded label for meridian_link_rejections_total{reason}.
//
// The package does no network I/O and reads no files; time is passed in.
package envelope
