package gateway

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// journalingRecorder is a fakeRecorder that also journals stream intents
// (a StreamRecorder), keeping the order of begins and records.
type journalingRecorder struct {
	*fakeRecorder
	mu    sync.Mutex
	ops   []string      // "begin:<region>" and "record"
	began chan struct{} // closed at the first begin
	once  sync.Once
	err   error // refuses every begin when set
	// cancellable is set when a begin got a context that can end.
	cancellable bool
}

func newJournalingRecorder(e *engine) *journalingRecorder {
	r := &journalingRecorder{fakeRecorder: e.recorder, began: make(chan struct{})}
	e.g.recorder = r
	return r
}

func (r *journalingRecorder) BeginStream(ctx context.Context, rec *Record) error {
	r.mu.Lock()
	r.ops = append(r.ops, "begin:"+rec.InferenceRegion)
	r.cancellable = r.cancellable || ctx.Done() != nil
	r.mu.Unlock()
	r.once.Do(func() { close(r.began) })
	return r.err
}

func (r *journalingRecorder) Record(ctx context.Context, rec *Record) error {
	r.mu.Lock()
	r.ops = append(r.ops, "record")
	r.mu.Unlock()
	return r.fakeRecorder.Record(ctx, rec)
}

// serveOnceBegun is a backend that starts its stream only once an intent
// was written: it fails if the intent were written after the attempt.
func (r *journalingRecorder) serveOnceBegun(ctx context.Context, _ string, _ int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
	select {
	case <-r.began:
	case <-time.After(10 * time.Second): // hang guard
		return nil, nil, errors.New("the intent was not written while the attempt ran")
	}
	return nil, newFakeStream(ctx, false, streamEvents()...), nil
}

func (r *journalingRecorder) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ops)
}

// TestStreamIntentDuringAttempt: a stream's intent is journaled while its
// attempt waits for the upstream's first event, not after: an upstream
// that answers only once the intent is written still serves. The intent
// names the destination; one intent and one record per request.
func TestStreamIntentDuringAttempt(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "")
	r := newJournalingRecorder(e)
	e.b.serve = r.serveOnceBegun
	out, err := e.invoke(t, "r", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := drain(t, out); err != nil {
		t.Fatal(err)
	}
	if got, want := r.log(), []string{"begin:" + out.Route.InferenceRegion, "record"}; !slices.Equal(got, want) {
		t.Errorf("recorder saw %v, want %v", got, want)
	}
}

// TestStreamIntentFailover: each attempt journals an intent naming its
// destination, the last one names the region that serves, and every intent
// is written before the request's record; a request no destination serves
// has its record after its intents (which the record closes).
func TestStreamIntentFailover(t *testing.T) {
	t.Parallel()
	for _, served := range []bool{true, false} {
		e := newEngine(t, "")
		r := newJournalingRecorder(e)
		e.b.serve = func(ctx context.Context, region string, n int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
			if n == 1 || !served {
				return nil, nil, unavailable(region)
			}
			return nil, newFakeStream(ctx, false, streamEvents()...), nil
		}
		out, err := e.invoke(t, "r", true)
		if served {
			if err != nil {
				t.Fatal(err)
			}
			if err := drain(t, out); err != nil {
				t.Fatal(err)
			}
		} else if err == nil {
			t.Fatal("Invoke served, want every destination down")
		}
		var want []string
		for _, region := range e.b.tried() {
			want = append(want, "begin:"+region)
		}
		want = append(want, "record")
		if got := r.log(); !slices.Equal(got, want) {
			t.Errorf("served=%v: recorder saw %v, want %v", served, got, want)
		}
		if n := e.records(); n != 1 {
			t.Errorf("served=%v: %d records, want 1", served, n)
		}
	}
}

// TestStreamIntentRefused: a refused intent refuses the stream before its
// first byte, as it did when it was written after the attempt: the
// stream is closed and the request recorded once with the recorder's
// error.
func TestStreamIntentRefused(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "")
	r := newJournalingRecorder(e)
	r.err = &inference.Error{Kind: inference.KindUnavailable, Message: "the audit trail cannot be written"}
	var s *fakeStream
	e.b.serve = func(ctx context.Context, _ string, _ int, _ *inference.Request) (*inference.Response, inference.Stream, error) {
		s = newFakeStream(ctx, false, streamEvents()...)
		return nil, s, nil
	}
	if _, err := e.invoke(t, "r", true); inference.AsError(err).Kind != inference.KindUnavailable {
		t.Fatalf("Invoke = %v, want the recorder's refusal", err)
	}
	select {
	case <-s.closed:
	default:
		t.Error("the refused stream was not closed")
	}
	if n := e.records(); n != 1 {
		t.Errorf("%d records, want 1", n)
	}
}

// TestForwardedStreamIntentDuringAttempt: at the destination too, a
// forwarded stream's intent is journaled while the local backend's first
// event is awaited, and names this region.
func TestForwardedStreamIntentDuringAttempt(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "")
	r := newJournalingRecorder(e)
	e.b.serve = r.serveOnceBegun
	job := &Job{RequestID: "fwd", Operation: OpChatCompletions, SourceRegion: "eu-central-1", DestinationRegion: "eu-west-1",
		ProfileID: "eu.m", Model: "m", Principal: e.principal, Request: &inference.Request{Model: "eu.m", Stream: true}}
	out, err := e.g.ServeForwarded(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	if err := drain(t, out); err != nil {
		t.Fatal(err)
	}
	if got, want := r.log(), []string{"begin:eu-west-1", "record"}; !slices.Equal(got, want) {
		t.Errorf("recorder saw %v, want %v", got, want)
	}
}

// TestJournalsStreams: an intent is written only for a recorder that
// journals streams, alone or among others.
func TestJournalsStreams(t *testing.T) {
	t.Parallel()
	journaling := &journalingRecorder{fakeRecorder: &fakeRecorder{}}
	for _, tc := range []struct {
		name string
		r    Recorder
		want bool
	}{
		{"plain recorder", &fakeRecorder{}, false},
		{"stream recorder", journaling, true},
		{"recorders without one", Recorders{&fakeRecorder{}, &fakeRecorder{}}, false},
		{"recorders with one", Recorders{&fakeRecorder{}, journaling}, true},
		{"nested", Recorders{Recorders{journaling}}, true},
		{"none", nil, false},
	} {
		if got := journalsStreams(tc.r); got != tc.want {
			t.Errorf("%s: journalsStreams = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestStreamIntentOutlivesTheRequest: an intent is written with a context
// the request's cannot end. A write abandoned when the client hangs up
// would stay queued in the audit writer and could land after the request's
// own (failure) event, leaving an intent that no event closes.
func TestStreamIntentOutlivesTheRequest(t *testing.T) {
	t.Parallel()
	e := newEngine(t, "")
	r := newJournalingRecorder(e)
	out, err := e.invoke(t, "r", true)
	if err != nil {
		t.Fatal(err)
	}
	if err := drain(t, out); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.ops) == 0 || r.cancellable {
		t.Errorf("begins %v, with a context the request can cancel: %v", r.ops, r.cancellable)
	}
}
