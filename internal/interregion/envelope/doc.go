// Package envelope signs and verifies the envelope that travels with every
// request forwarded over the inter-region link: who asked (principal,
// source region), what for (profile ARN, request id, body hash), for whom
// (destination region), and when (issued-at, nonce).
//
// The source node signs the envelope with the ECDSA P-256 key of its link
// certificate (the certificate is the binding between key and region; see
// docs/security.md). The destination verifies it with [Verifier.Verify]:
// signature, source region equal to the TLS peer's region, freshness,
// destination equal to itself, body hash, topology checks supplied by the
// caller ([Checker]), and finally the nonce against a bounded
// [ReplayCache]. Every refusal is an [*Error] whose [Reason] is a bounded
// label for meridian_link_rejections_total{reason}.
//
// The package does no network I/O and reads no files; time is passed in.
package envelope
