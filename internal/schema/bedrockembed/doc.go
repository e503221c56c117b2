// Package bedrockembed is the wire schema of the Bedrock InvokeModel bodies
// of embedding models: Amazon Titan Text Embeddings (v1
// amazon.titan-embed-text-v1 takes a TitanRequest's inputText only; v2
// amazon.titan-embed-text-v2:0), Amazon Titan Multimodal Embeddings
// (amazon.titan-embed-image-v1) and Cohere Embed (cohere.embed-english-v3,
// cohere.embed-multilingual-v3, cohere.embed-v4:0). Every object type keeps
// the members it does not declare in an Extra field and writes them back on
// encode, so decoding and re-encoding a body loses nothing.
//
// The package imports only the standard library and performs no I/O.
package bedrockembed

//go:generate ../jsonx/gen_extra.sh bedrockembed extra_gen.go TitanRequest TitanResponse TitanEmbeddingsByType TitanMultimodalRequest TitanEmbeddingConfig CohereRequest CohereResponse CohereEmbeddingsByType
