// Package inference defines Meridian's canonical inference model: the request,
// response, stream events and errors that every front end (OpenAI, Bedrock)
// translates to and from, and that routing, forwarding and backends only ever
// see. It performs no I/O.
package inference
