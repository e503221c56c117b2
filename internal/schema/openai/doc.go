// Package openai is the wire schema of the OpenAI API as Meridian serves and
// calls it: Chat Completions requests, responses, stream chunks and errors.
// Every object type keeps the members it does not declare in an Extra field
// and writes them back on encode, so decoding and re-encoding a body loses
// nothing. Peek reads the few fields the gateway routes on from raw bytes
// without decoding the rest.
//
// One file per API: chat*.go holds Chat Completions; the Responses and
// Embeddings APIs get responses*.go and embeddings*.go beside it.
//
// The package imports only the standard library and performs no I/O.
package openai
