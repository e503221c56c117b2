// Package anthropic is Meridian's Anthropic Messages front end: POST
// /v1/messages (with stream: true as Anthropic's server-sent events) and POST
// /v1/messages/count_tokens, as Anthropic's SDKs call them when pointed at a
// gateway with ANTHROPIC_BASE_URL. The client's body is kept as received and
// carried in the Anthropic Messages dialect of Bedrock's InvokeModel
// (anthropic_version instead of model and stream, the anthropic-beta header
// as anthropic_beta): a backend serving that dialect passes it through, any
// other translates. Errors take Anthropic's
// {"type":"error","error":{"type","message"}} shape.
package anthropic
