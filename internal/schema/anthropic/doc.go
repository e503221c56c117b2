// Package anthropic is the wire schema of the Anthropic Messages API, both as
// POST /v1/messages (with model) and as the body of Bedrock InvokeModel for
// Claude models (with anthropic_version, model in the URL): requests,
// responses, streaming events and errors. Every object type keeps the members
// it does not declare in an Extra field and writes them back on encode.
// Peek reads the few fields the gateway routes on from raw bytes.
//
// The package imports only the standard library and performs no I/O.
package anthropic
