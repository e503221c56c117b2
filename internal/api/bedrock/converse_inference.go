package bedrock

import (
	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/inference"
)

type textBlock struct {
	Text string `json:"text"`
}

type outMessage struct {
	Role    string      `json:"role"`
	Content []textBlock `json:"content"`
}

type tokenUsage struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
	TotalTokens  int `json:"totalTokens"`
}

type metrics struct {
	LatencyMs int64 `json:"latencyMs"`
}

// converseResponse is Bedrock's ConverseResponse.
type converseResponse struct {
	Output struct {
		Message outMessage `json:"message"`
	} `json:"output"`
	StopReason string     `json:"stopReason"`
	Usage      tokenUsage `json:"usage"`
	Metrics    metrics    `json:"metrics"`
}

func usageOf(u inference.Usage) tokenUsage {
	return tokenUsage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, TotalTokens: u.Total()}
}

func converseBody(resp *inference.Response, latencyMs int64) converseResponse {
	var out converseResponse
	out.Output.Message = outMessage{Role: "assistant", Content: []textBlock{{Text: resp.Message.Text()}}}
	out.StopReason = dialect.ConverseStopReason(resp.StopReason)
	out.Usage = usageOf(resp.Usage)
	out.Metrics.LatencyMs = latencyMs
	return out
}

// ConverseStream event payloads (docs/bedrock.md, "Event streams").
type (
	messageStartEvent struct {
		Role string `json:"role"`
	}
	contentBlockDeltaEvent struct {
		ContentBlockIndex int       `json:"contentBlockIndex"`
		Delta             textBlock `json:"delta"`
	}
	contentBlockStopEvent struct {
		ContentBlockIndex int `json:"contentBlockIndex"`
	}
	messageStopEvent struct {
		StopReason string `json:"stopReason"`
	}
	metadataEvent struct {
		Usage   tokenUsage `json:"usage"`
		Metrics metrics    `json:"metrics"`
	}
)
