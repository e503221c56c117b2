// Package mockllm is a simulated OpenAI-compatible model server: the stand-in
// for GPUs that tests, `meridian demo` and benchmarks put behind the gateway.
//
// A [Server] answers GET /v1/models, GET /v1/models/{id} and
// POST /v1/chat/completions (non-streaming, and streaming as server-sent
// events) and POST /v1/embeddings in OpenAI's wire shapes, plus GET /healthz
// and the operator endpoint /mockllm/v1/control. Its Bedrock face,
// POST /model/{modelId}/{op}, answers Converse and InvokeModel (Anthropic
// Messages and Meta Llama bodies) and, for Amazon Titan Text Embeddings
// (v1 and v2), Titan Multimodal Embeddings and Cohere Embed (v3 and v4)
// model ids, their InvokeModel embedding bodies with the same vectors as
// /v1/embeddings. It simulates what the gateway must cope with
// from a real deployment:
//
//   - latency: a time to first token, then a steady tokens-per-second rate;
//   - capacity: a concurrency limit and sliding 60-second request (RPM) and
//     token (TPM) windows, answered with 429, Retry-After and OpenAI's
//     x-ratelimit-* headers, on every model endpoint (chat, embeddings,
//     Bedrock);
//   - a prompt cache: a long prefix is written by the first request that
//     sends it and read by the next, as OpenAI (automatically) and Bedrock
//     (at cachePoint and cache_control markers) report it (cache.go);
//   - faults: a deterministic failure rate, connections aborted after some
//     tokens (a backend dying mid-stream), a manual outage (503) and a
//     manual throttle (429) of every model endpoint, all switchable at run
//     time.
//
// Completions are deterministic: the same seed and the same request give the
// same text, and the usage it reports equals what it streamed (one token per
// content delta). Prompt tokens are estimated as the gateway estimates them:
// four per message plus one per four bytes of text.
//
// The package uses only the standard library. It knows nothing about regions,
// profiles or routing; it must stay a faithful, boring OpenAI look-alike.
package mockllm
