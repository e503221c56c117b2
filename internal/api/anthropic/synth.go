package anthropic

import (
	"encoding/json"

	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/inference"
	schema "github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/telemetry"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// synth renders canonical stream events as Anthropic's.
type synth struct {
	id, model        string
	inputTokens      int
	started, inBlock bool
	stop             inference.StopReason
	usage            inference.Usage
}

func newSynth(id string, req *inference.Request) *synth {
	return &synth{id: id, model: req.Model, inputTokens: req.EstimatedInputTokens(), stop: inference.StopEndTurn}
}

func ev(name string, v any) translate.Event {
	b, _ := json.Marshal(v)
	return translate.Event{Type: name, Data: b}
}

func (s *synth) start(out []translate.Event) []translate.Event {
	if s.started {
		return out
	}
	s.started = true
	return append(out, ev("message_start", map[string]any{"type": "message_start",
		"message": dialect.AnthropicMessageStart(s.id, s.model, s.inputTokens)}))
}

func (s *synth) block(out []translate.Event) []translate.Event {
	if s.inBlock {
		return out
	}
	s.inBlock = true
	return append(out, ev("content_block_start", map[string]any{"type": "content_block_start", "index": 0, "content_block": schema.Block{Type: schema.BlockText}}))
}

// next renders one canonical event; stop and usage are kept for finish.
func (s *synth) next(e *inference.Event) []translate.Event {
	var out []translate.Event
	switch e.Kind {
	case inference.EventStart:
		out = s.start(out)
	case inference.EventDelta:
		out = s.block(s.start(out))
		out = append(out, ev("content_block_delta", map[string]any{"type": "content_block_delta", "index": 0,
			"delta": map[string]string{"type": "text_delta", "text": e.Text}}))
	case inference.EventStop:
		s.stop = e.StopReason
	case inference.EventUsage:
		if e.Usage != nil {
			s.usage = *e.Usage
		}
	}
	return out
}

// finish renders the events that end the stream.
func (s *synth) finish() []translate.Event {
	out := s.block(s.start(nil))
	return append(out,
		ev("content_block_stop", map[string]any{"type": "content_block_stop", "index": 0}),
		ev("message_delta", map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": dialect.AnthropicStopReason(s.stop), "stop_sequence": nil},
			"usage": schema.Usage{InputTokens: int64(s.usage.InputTokens), OutputTokens: int64(s.usage.OutputTokens)}}),
		ev("message_stop", map[string]string{"type": "message_stop"}))
}

func newRequestID() string { return telemetry.NewRequestID() }
