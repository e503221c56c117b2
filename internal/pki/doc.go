// Package pki owns the certificates of the inter-region link: the private
// certificate authority, node certificates that name a region identity
// (spiffe://<trust-domain>/region/<region-id>), the TLS configurations that
// enforce mutual TLS 1.3 with region checks, and the [Store] that reloads
// rotated certificate, key and CA files from disk.
//
// It does not decide which regions may talk to each other: callers pass the
// set of regions the topology knows ([Store.ServerTLSConfig]) or the region
// they dialled ([Store.ClientTLSConfig]). It does not sign request envelopes;
// package interregion/envelope does that with the key of the certificate
// served here.
//
// Only the standard library's crypto is used. Keys are ECDSA P-256.
package pki
