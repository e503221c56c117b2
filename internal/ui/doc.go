// Package ui is the operator console: a static web page embedded in the
// binary (served at /ui/ on every node's client listener), the live view
// that aggregates what the node sees into one frame a second, and the
// console's HTTP endpoints (the live stream, one request's record, and the
// demo's operator actions).
//
// The live view is a [gateway.Recorder]: it keeps recent records in memory
// only (a bounded ring buffer) and never stores prompts or completions. It
// does not decide anything; it must not be consulted on the request path.
package ui
