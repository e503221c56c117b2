// Package node assembles one region's Meridian node from a topology: the
// backends of the region's deployments, the gateway, the OpenAI front end,
// the operational endpoints, and the inter-region link (client and server).
// `meridian serve` runs one node; `meridian demo` runs several in one process.
package node
