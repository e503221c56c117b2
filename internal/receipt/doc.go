// Package receipt makes and checks residency receipts: a statement, signed
// by the node of the region where inference ran with its link identity,
// that one request was served there, with the hashes of the request and of
// the answer and a reference to the destination's audit event.
//
// A receipt is a JWS in compact serialization (RFC 7515) signed with ES256
// (RFC 7518: ECDSA P-256 over SHA-256, signature as the raw 64-byte r||s).
// Its protected header carries the signer's certificate chain in "x5c"
// (leaf first, without the root), so that anyone holding the link CA bundle
// can check it with standard tools and without asking Meridian: see
// docs/receipts.md for the format and a recipe with openssl.
//
// The package does no I/O, reads no clock (callers pass now, or an
// [Issuer] holds the node's clock) and keeps no state. It does not touch
// HTTP: the front ends and the inter-region link put receipts where
// [Header], [StreamField] and [BedrockStreamField] say. It imports
// internal/pki only for the region identity of link certificates.
package receipt
