// Package translate converts requests, responses and stream events between
// the OpenAI Chat Completions, Bedrock Converse and Anthropic Messages
// dialects, for when a client's dialect differs from its backend's. When they
// match the gateway forwards the client's bytes and never calls this package.
//
// The gateway calls the byte-level seam in dialect.go: Request, Response
// and NewStream (events without framing), plus ParseBackendError and
// RenderError for backend error responses. The typed functions below are
// what those call.
//
// Each file <client>_<backend>.go holds one direction: the request from the
// client's dialect to the backend's, and the response and stream events back.
// Exported names say which way each function goes:
//
//	OpenAIToConverseRequest  (openai_converse.go)  ConverseToOpenAIResponse, ConverseToOpenAIStream
//	ConverseToOpenAIRequest  (converse_openai.go)  OpenAIToConverseResponse, OpenAIToConverseStream
//	OpenAIToAnthropicRequest (openai_anthropic.go) AnthropicToOpenAIResponse, AnthropicToOpenAIStream
//	AnthropicToOpenAIRequest (anthropic_openai.go) OpenAIToAnthropicResponse, OpenAIToAnthropicStream
//	AnthropicToConverseRequest (anthropic_converse.go) ConverseToAnthropicResponse, ConverseToAnthropicStream
//	ConverseToAnthropicRequest (converse_anthropic.go) AnthropicToConverseResponse, AnthropicToConverseStream
//
// A request member the target cannot express is refused with an
// *UnsupportedError naming its field path in the client's dialect, never
// dropped; so is any member the client's schema does not know (its Extra).
// Response translation is lenient where the client's dialect has no place
// for a backend detail that does not change the answer (signatures of
// reasoning, latency metrics); each such case is documented on the function.
// Members an upstream adds inside a part this package knows, and Converse
// stream events of a new type, are ignored; a part of a kind it does not
// know fails the answer, naming the part, and so does a member beside a
// known one in a union (a stream delta's members are parts: strayMember).
// Such a failure mid-stream is a *StreamError with Own set; a backend's
// own error event never has it, whatever type it names, so that only this
// package's fixed reasons reach the client (StreamError.Translator).
//
// Mechanisms chosen where the dialects differ:
//   - Structured output: OpenAI response_format json_schema becomes Converse
//     outputConfig.textFormat (Bedrock structured outputs) and Anthropic
//     output_config.format (Anthropic structured outputs; the beta
//     output_format is read too); json_object becomes the same with the
//     schema {"type":"object"}. No forced tool is used. Anthropic's format
//     has no description: it becomes the schema's root description
//     annotation (see describeSchema).
//   - Anthropic blocks share one Go type: a member the block's type does
//     not define (a signature on a text block) is refused by path, as
//     Anthropic refuses it, rather than decoded and left behind.
//   - Citations: a Converse citationsContent answer block becomes an
//     Anthropic text block with citations (converse_citations.go), and back
//     when a client sends the answer again as its assistant turn; towards
//     OpenAI, which has no citation form in a request, the text alone.
//   - Earlier answers sent back: what only describes an earlier answer
//     (OpenAI annotations, refusal text, tool call index, reasoning_content;
//     a direct tool_use caller; a Responses phase) is accepted, its text
//     carried, its metadata left out; see docs/api.md. A null member counts
//     as absent everywhere, union members included (present).
//   - Request metadata (invocation-log labels: Converse requestMetadata,
//     OpenAI metadata) is sent where the target has a member of the same
//     meaning: OpenAI metadata becomes Converse requestMetadata. Towards
//     OpenAI it is not sent (Chat Completions takes metadata only with
//     store: true, which keeps the conversation); towards Anthropic, whose
//     metadata holds only a user id, it is refused. Meridian's audit events
//     record a Bedrock caller's metadata wherever it goes; see docs/api.md.
//   - Reasoning: OpenAI reasoning_effort maps to an Anthropic thinking budget
//     (see EffortBudget); Converse carries it as the Claude-native
//     additionalModelRequestFields.thinking. Reasoning text comes back to
//     OpenAI clients in message.reasoning_content (as vLLM and DeepSeek do).
//   - Tool results: OpenAI tool messages become toolResult/tool_result
//     blocks of one user turn; Chat Completions has no error flag, so a
//     result marked as an error reaches an OpenAI model as its content
//     after a first line "Error:" (toolErrorLine).
//   - Stop reasons: end_turn and stop_sequence are OpenAI "stop", max_tokens
//     "length", tool_use "tool_calls", guardrail and refusal stops
//     "content_filter"; back the other way the nearest stop reason.
//   - Prompt caching: Anthropic cache_control on a block equals a Converse
//     cachePoint after that block. OpenAI caches on its own and has no
//     marker, so markers sent to an OpenAI backend are refused. Cached input
//     tokens map between usage.prompt_tokens_details.cached_tokens,
//     cacheReadInputTokens and cache_read_input_tokens; OpenAI prompt_tokens
//     include cached tokens while the other two count them apart.
//
// The package is pure: standard library and the schema packages only, no I/O.
package translate
