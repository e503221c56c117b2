package anthropic

//go:generate ../jsonx/gen_extra.sh anthropic extra_gen.go Request Message CacheControl Metadata Thinking ToolChoice Tool OutputFormat OutputConfig Response Usage Event DeltaUsage ErrorResponse ErrorBody
