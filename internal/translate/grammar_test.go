package translate_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/openai"
)

// TestStreamGrammar checks every golden translated stream against the
// client dialect's event grammar: what an SDK's stream accumulator needs.
func TestStreamGrammar(t *testing.T) {
	t.Parallel()
	checks := map[string]func([]byte) error{
		"openai_converse":    openAIGrammar,
		"openai_anthropic":   openAIGrammar,
		"anthropic_converse": anthropicGrammar,
		"anthropic_openai":   anthropicGrammar,
		"converse_openai":    converseGrammar,
		"converse_anthropic": converseGrammar,
	}
	checked := 0
	for dir, check := range checks {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*", "stream.out.json"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var e struct{ Error string }
			if json.Unmarshal(b, &e) == nil && e.Error != "" {
				continue
			}
			if err := check(b); err != nil {
				t.Errorf("%s: %v", f, err)
			}
			checked++
		}
	}
	if checked < 6 {
		t.Errorf("checked %d streams, want one per direction at least", checked)
	}
	// The checkers must reject a broken stream.
	if openAIGrammar([]byte(`[{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[{"index":0,"function":{"arguments":"{"}}]},"finish_reason":null}]}]`)) == nil {
		t.Error("openAIGrammar accepted a tool call without id and a stream without finish")
	}
	if anthropicGrammar([]byte(`[{"type":"message_start"},{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}},{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":1}},{"type":"message_stop"}]`)) == nil {
		t.Error("anthropicGrammar accepted a delta without a block start")
	}
}

// openAIGrammar: one role chunk first, tool call deltas name a call first
// seen with id and name, arguments accumulate to JSON objects, one finish
// reason, and usage (if any) last with no choices.
func openAIGrammar(b []byte) error {
	var chunks []openai.ChatCompletionChunk
	if err := json.Unmarshal(b, &chunks); err != nil {
		return err
	}
	args := map[int64]string{}
	finishes := 0
	for i, c := range chunks {
		if c.Usage != nil && (i != len(chunks)-1 || len(c.Choices) != 0) {
			return fmt.Errorf("chunk %d: usage chunk must be last and have no choices", i)
		}
		for _, ch := range c.Choices {
			if (ch.Delta.Role != "") != (i == 0) {
				return fmt.Errorf("chunk %d: role only in the first chunk", i)
			}
			for _, tc := range ch.Delta.ToolCalls {
				if tc.Index == nil {
					return fmt.Errorf("chunk %d: tool call delta without index", i)
				}
				if _, seen := args[*tc.Index]; !seen {
					if tc.ID == "" || tc.Function.Name == "" {
						return fmt.Errorf("chunk %d: first delta of call %d lacks id or name", i, *tc.Index)
					}
					args[*tc.Index] = ""
				}
				args[*tc.Index] += tc.Function.Arguments
			}
			if ch.FinishReason != nil {
				finishes++
			}
		}
	}
	for idx, a := range args {
		var v map[string]any
		if err := json.Unmarshal([]byte(a), &v); err != nil {
			return fmt.Errorf("call %d arguments %q: %v", idx, a, err)
		}
	}
	if finishes != 1 {
		return fmt.Errorf("%d finish reasons, want 1", finishes)
	}
	return nil
}

// anthropicGrammar: message_start, then blocks each started, deltas of its
// type, stopped, one at a time with increasing index, then message_delta
// with a stop reason and message_stop.
func anthropicGrammar(b []byte) error {
	var evs []anthropic.Event
	if err := json.Unmarshal(b, &evs); err != nil {
		return err
	}
	if len(evs) < 3 || evs[0].Type != anthropic.EventMessageStart || evs[len(evs)-1].Type != anthropic.EventMessageStop || evs[len(evs)-2].Type != anthropic.EventMessageDelta {
		return fmt.Errorf("want message_start ... message_delta message_stop")
	}
	if evs[len(evs)-2].Delta == nil || evs[len(evs)-2].Delta.StopReason == nil || evs[len(evs)-2].Usage == nil {
		return fmt.Errorf("message_delta lacks stop_reason or usage")
	}
	open, next := int64(-1), int64(0)
	var kind string
	input := ""
	for i, e := range evs[1 : len(evs)-2] {
		switch e.Type {
		case anthropic.EventContentBlockStart:
			if open >= 0 || *e.Index != next {
				return fmt.Errorf("event %d: block %d started out of order", i+1, *e.Index)
			}
			open, kind, input = *e.Index, e.ContentBlock.Type, ""
			next++
		case anthropic.EventContentBlockDelta:
			if *e.Index != open {
				return fmt.Errorf("event %d: delta for block %d while %d is open", i+1, *e.Index, open)
			}
			want := map[string]string{anthropic.DeltaText: anthropic.BlockText, anthropic.DeltaInputJSON: anthropic.BlockToolUse,
				anthropic.DeltaThinking: anthropic.BlockThinking, anthropic.DeltaSignature: anthropic.BlockThinking, anthropic.DeltaCitations: anthropic.BlockText}[e.Delta.Type]
			if want != kind {
				return fmt.Errorf("event %d: %s delta in a %s block", i+1, e.Delta.Type, kind)
			}
			if e.Delta.PartialJSON != nil {
				input += *e.Delta.PartialJSON
			}
		case anthropic.EventContentBlockStop:
			if *e.Index != open {
				return fmt.Errorf("event %d: stop of block %d while %d is open", i+1, *e.Index, open)
			}
			if kind == anthropic.BlockToolUse && !json.Valid([]byte(input)) {
				return fmt.Errorf("event %d: tool input %q is not JSON", i+1, input)
			}
			open = -1
		default:
			return fmt.Errorf("event %d: unexpected %s", i+1, e.Type)
		}
	}
	if open >= 0 {
		return fmt.Errorf("block %d never stopped", open)
	}
	return nil
}

// converseGrammar: messageStart first, metadata last, messageStop before it,
// tool input deltas only in started tool blocks, each block stopped once.
func converseGrammar(b []byte) error {
	evs, err := converseEvents(b)
	if err != nil {
		return err
	}
	n := len(evs)
	if n < 3 || evs[0].MessageStart == nil || evs[n-1].Metadata == nil || evs[n-2].MessageStop == nil {
		return fmt.Errorf("want messageStart ... messageStop metadata")
	}
	tools := map[int64]string{}
	stopped := map[int64]bool{}
	for i, e := range evs[1 : n-2] {
		switch {
		case e.ContentBlockStart != nil:
			tools[e.ContentBlockStart.ContentBlockIndex] = ""
		case e.ContentBlockDelta != nil:
			idx := e.ContentBlockDelta.ContentBlockIndex
			if stopped[idx] {
				return fmt.Errorf("event %d: delta after stop of block %d", i+1, idx)
			}
			if tu := e.ContentBlockDelta.Delta.ToolUse; tu != nil {
				if _, ok := tools[idx]; !ok {
					return fmt.Errorf("event %d: tool input for block %d without start", i+1, idx)
				}
				tools[idx] += tu.Input
			}
		case e.ContentBlockStop != nil:
			idx := e.ContentBlockStop.ContentBlockIndex
			if stopped[idx] {
				return fmt.Errorf("event %d: block %d stopped twice", i+1, idx)
			}
			stopped[idx] = true
		default:
			return fmt.Errorf("event %d: unexpected %s", i+1, e.Type)
		}
	}
	for idx, in := range tools {
		if !json.Valid([]byte(in)) {
			return fmt.Errorf("block %d tool input %q is not JSON", idx, in)
		}
	}
	return nil
}
