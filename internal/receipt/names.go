package receipt

// Where receipts travel (docs/receipts.md, "Opting in"). The package does
// not read or write HTTP; the front ends use these names so that every
// dialect spells them alike.
const (
	// Header is the request header with which a client asks for a receipt
	// (value "true"), and the response header that carries the receipt of
	// a non-streaming answer.
	Header = "X-Meridian-Receipt"
	// StreamField is the JSON member that carries a stream's receipt in its
	// final event, in the OpenAI and Anthropic dialects.
	StreamField = "meridian_receipt"
	// BedrockStreamField is that member in Bedrock event streams (the
	// ConverseStream metadata event, InvokeModelWithResponseStream's last
	// chunk), in Bedrock's camelCase.
	BedrockStreamField = "meridianReceipt"
)
