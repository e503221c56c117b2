package backend

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestBedrockStreamEndsWithItsSource: a ConverseStream reports its end
// only from the SDK's event stream, whose channel closes once the SDK has
// read the HTTP body to its end (net/http has then pooled the
// connection), never by itself at the last event (metadata): Close right
// after would cut the body short and cost the connection. The source here
// ends only when the stream asks it for more after its last event, so a
// stream that reports its end without asking fails, whatever the timing.
func TestBedrockStreamEndsWithItsSource(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	src := newEndingEvents(
		&types.ConverseStreamOutputMemberMessageStart{},
		&types.ConverseStreamOutputMemberMessageStop{Value: types.MessageStopEvent{StopReason: types.StopReasonEndTurn}},
		&types.ConverseStreamOutputMemberMetadata{Value: types.ConverseStreamMetadataEvent{Usage: &types.TokenUsage{}}},
	)
	s := newBedrockStream(ctx, cancel, src, time.Hour, clock.NewManual(time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)))
	var kinds []inference.EventKind
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, ev.Kind)
		if len(kinds) > 3 {
			t.Fatalf("events %v, want 3", kinds)
		}
	}
	if !src.ended {
		t.Fatalf("Recv reported the end after %v before its source had ended", kinds)
	}
	if src.closed {
		t.Fatal("the source was closed before Close")
	}
	s.Close()
	if !src.closed || ctx.Err() == nil {
		t.Fatalf("after Close: source closed %v, call context %v; want closed and cancelled", src.closed, ctx.Err())
	}
}

// endingEvents is a ConverseStream event source holding its events, which
// ends (closes its channel, as the SDK does at the body's end) when asked
// for its channel with every event taken. Only the stream's goroutine uses
// it.
type endingEvents struct {
	ch     chan types.ConverseStreamOutput
	ended  bool
	closed bool
}

func newEndingEvents(evs ...types.ConverseStreamOutput) *endingEvents {
	e := &endingEvents{ch: make(chan types.ConverseStreamOutput, len(evs))}
	for _, ev := range evs {
		e.ch <- ev
	}
	return e
}

func (e *endingEvents) Events() <-chan types.ConverseStreamOutput {
	if len(e.ch) == 0 && !e.ended {
		e.ended = true
		close(e.ch)
	}
	return e.ch
}
func (e *endingEvents) Err() error   { return nil }
func (e *endingEvents) Close() error { e.closed = true; return nil }
