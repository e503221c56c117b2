package openai

//go:generate ../jsonx/gen_extra.sh openai extra_gen.go ChatCompletionRequest Message ContentPart ImageURL InputAudio File ToolCall FunctionCall CustomCall Tool FunctionDef ToolChoiceFunction ResponseFormat JSONSchema StreamOptions AudioOutput Prediction WebSearchOptions ChatCompletion Choice Logprobs TokenLogprob TopLogprob Usage PromptTokensDetails CompletionTokensDetails ChatCompletionChunk ChunkChoice Delta ErrorResponse ErrorBody ModelList Model
