// Package bedrock is Meridian's Amazon Bedrock front end, shaped so that the
// official AWS SDK clients work against a node with only the endpoint and
// credentials changed (docs/bedrock.md):
//
//   - Bedrock Runtime: POST /model/{modelId}/converse, /converse-stream,
//     /invoke and /invoke-with-response-stream (Anthropic Messages bodies),
//     streams in the AWS event-stream framing;
//   - the inference-profile control plane: GET/POST /inference-profiles and
//     GET/DELETE /inference-profiles/{id}, translated to calls of the
//     application-profile registry (package profile's Registry, kept on
//     disk by package profilestore). The front end holds no profile state;
//     the node owns the registry and keeps the gateway's catalog in step.
//
// It authenticates with AWS Signature Version 4 (package auth) or an API key
// sent as "Authorization: Bearer", translates to and from the canonical
// model of package inference, and renders errors as Bedrock does: an
// x-amzn-ErrorType header naming the exception shape and {"message": ...}.
// It does not route, authorize invocations or record requests itself; the
// gateway does.
package bedrock
