// Package converse is the wire schema of the Amazon Bedrock Runtime Converse
// and ConverseStream APIs: request and response bodies, and the JSON payloads
// of ConverseStream's event-stream frames (the frame's :event-type header
// names the payload type). Unions (content blocks, tool choice) are structs
// with one pointer member set. Every object type keeps the members it does
// not declare in an Extra field and writes them back on encode. Peek reads
// the few fields the gateway routes on from raw bytes.
//
// The model id travels in the URL path, not in the body.
//
// The package imports only the standard library and performs no I/O.
package converse
