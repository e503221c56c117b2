// Package gateway is one region's request path: it resolves what the caller
// named into an inference profile, authorizes the caller, plans the
// destinations, executes locally or forwards over the inter-region link,
// fails over before the first byte, and records every request (metrics,
// audit, live view). Front ends (OpenAI, Bedrock) translate their dialect to
// a Call and render the Outcome; the link server hands forwarded requests to
// ServeForwarded, which re-checks residency against this node's own
// topology before serving.
//
// Invariants enforced here (see docs/architecture.md): a request is never served
// outside its profile's destination set (1); failover happens only before
// the first byte (3); every admitted request produces exactly one record (4);
// every response carries the route headers (5).
//
// The gateway imports no adapter: it declares what it consumes (Backend,
// Quota, Recorder, Link, Authorizer) and package node wires the backend,
// quota, audit and interregion adapters in. A nil Authorizer is refused;
// a topology without policies gets AllowAll, deliberately.
package gateway
