// Package interregion is the node-to-node link: the client that forwards a
// job to another region's node and streams the answer back, the server that
// hands forwarded jobs to the local gateway, and the peer prober that tells
// the gateway which peers answer. Transport security (mutual TLS 1.3 with
// region identities) comes from package pki and request signing from
// package interregion/envelope.
//
// Wire format (HTTP/1.1 or HTTP/2, JSON): POST /link/v1/invoke carries the
// canonical request as the body and the job's metadata in the envelope
// (Meridian-Link-Envelope, sealed by Meridian-Link-Mac or
// Meridian-Link-Signature; see package envelope). The destination reads the
// job's metadata from the envelope only; testdata/wire pins the exact
// headers and envelope fields. GET /link/v1/state answers the node's
// published state, with the newest envelope version it accepts in
// Meridian-Link-Envelope-Version; the client writes each peer the newest
// version both know.
// A non-streaming answer is the canonical response; a streaming one is
// application/x-ndjson, one {"event":...} per line, ending with {"end":true}
// or {"error":...}. Errors before the first byte use the HTTP status of their
// kind and a JSON body {"kind","message","retryAfterMs"}.
//
// Connections (transport.go): the server allows MaxStreamsPerConn streams
// per HTTP/2 connection; the client carries forwarded jobs on up to 16
// connections per peer ("lanes", 100 streams each, opened one at a time)
// and probes on a connection of its own. A peer is down once nothing has
// come from it for ClientOptions.DownAfter, or after two refusals in a row:
// a peer that is merely busy is not.
package interregion
