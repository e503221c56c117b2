// Package openai is Meridian's OpenAI-compatible front end: GET /v1/models
// and POST /v1/chat/completions (with stream: true as server-sent events).
// It translates OpenAI's wire format to the canonical model of package
// inference and back, and renders errors in OpenAI's
// {"error":{"message","type","code"}} shape.
package openai
