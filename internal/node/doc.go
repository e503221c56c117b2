// Package node assembles one region's Meridian node from a topology: the
// backends of the region's deployments, the gateway, the OpenAI front end,
// the operational endpoints, and the inter-region link (client and server).
// `meridian serve` runs one node; `meridian demo` runs several in one process.
//
// What a topology determines for requests (profiles, principals, policies,
// limits, routing, backends, front ends) is built as one generation;
// [Node.Reload] swaps in a new one while requests in flight finish on the
// generation they entered (reload.go). Listeners, the link, the quota store
// and the audit trail are built once and need a restart to change, and so
// is the registry of API-created application profiles (profiles.go), which
// feeds every generation's catalog. Peers' published states are decoded
// once (peerstate.go) and their parts handed to routing, the console and
// the registry.
//
// The node is where the adapters meet the gateway (docs/architecture.md,
// "Package map and layering"): backends as gateway.Backend, the quota
// limiter as gateway.Quota (reservation.go), the audit trail and the live
// view as gateway.Recorder, the link client as gateway.Link, and the
// topology's policies as gateway.Authorizer (gateway.AllowAll, said at start,
// for a topology without policies).
package node
