package gateway

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Admitter is implemented by recorders that can refuse new requests when
// they could not record them (invariant 4).
type Admitter interface {
	Admit() error
}

// StreamRecorder is implemented by recorders that must hear of a stream
// before its first byte goes out (the audit trail's write-ahead journal).
// An error refuses the stream: nothing has been sent yet.
type StreamRecorder interface {
	BeginStream(ctx context.Context, rec *Record) error
}

// BeginStream tells every recorder that can hear of streams; the first
// error wins.
func (rs Recorders) BeginStream(ctx context.Context, rec *Record) error {
	for _, r := range rs {
		if s, ok := r.(StreamRecorder); ok {
			if err := s.BeginStream(ctx, rec); err != nil {
				return err
			}
		}
	}
	return nil
}

// beginStream is called once a stream is ready and before its first byte.
//
// The intent is written whatever becomes of the request's context: a
// write abandoned half-way (queued in the audit writer when the client
// hangs up) could land after the request's own event, and leave an intent
// no event closes, so a second, interrupted event after a restart.
func (g *Gateway) beginStream(ctx context.Context, rec *Record) error {
	if s, ok := g.recorder.(StreamRecorder); ok {
		return s.BeginStream(context.WithoutCancel(ctx), rec)
	}
	return nil
}

// streamIntent is a stream's journal intent written while its attempt
// runs: the write (a file write, fsynced under audit.SyncAlways) overlaps
// the upstream's wait for its first event instead of following it.
//
// The intent names the destination of the attempt; a failover to another
// destination writes a new one, which replaces it (the journal keeps the
// last begin of a request). Each attempt's write is awaited before the
// attempt's outcome is acted on, so an intent is always journaled before
// the request's event is appended: a failed request's event closes it,
// and a crash meanwhile leaves exactly one event (the interrupted one).
type streamIntent struct {
	rec    *Record // the request's record; nil writes no intent early
	region string  // the destination the journaled intent names
	err    error   // the outcome of the last write, set by its goroutine
	// snap is the record the write journals: a copy, since the record
	// changes once the attempt is over, and the intent names the
	// attempt's destination only. It lives here, not in an allocation of
	// each write: start and wait alternate, so one write at a time reads it.
	snap Record
	s    StreamRecorder
	ctx  context.Context
	done sync.WaitGroup // the write under way
	// pending: a write is under way.
	pending bool
}

// start writes the intent of an attempt at region in the background; wait
// collects the outcome. It does nothing when the recorder journals no
// streams. Every start is followed by a wait before the next.
func (in *streamIntent) start(ctx context.Context, g *Gateway, region string) {
	if in == nil || in.rec == nil || !journalsStreams(g.recorder) {
		return
	}
	in.snap = *in.rec
	in.snap.InferenceRegion = region
	if t, ok := inference.ParseServiceTier(in.snap.ServiceTier); ok {
		in.snap.ServiceTier = g.servedTier(region, in.snap.Model, t).String()
	}
	in.region, in.err = region, nil
	in.s = g.recorder.(StreamRecorder)
	// Not cancelled with the request: wait must mean journaled (see
	// beginStream).
	in.ctx = context.WithoutCancel(ctx)
	in.done.Add(1)
	in.pending = true
	go in.write()
}

// write is the goroutine of start.
func (in *streamIntent) write() {
	growStack()
	in.err = in.s.BeginStream(in.ctx, &in.snap)
	in.done.Done()
}

// intentStack is the stack an intent's write is given at once: a new
// goroutine starts with a small stack, and the audit trail's encoding of
// the intent (docs/performance.md, "Streaming first token, 2026-12-07
// night") used to outgrow it deep in its calls, where growing copies
// every frame below: about 6 µs of CPU per stream in stack copying.
// Grown first, while the goroutine has a single frame, the copy is a few
// hundred bytes.
const intentStack = 6 << 10

// growStack makes the calling goroutine's stack hold intentStack bytes
// more: its frame is that large, so the stack check on entry grows the
// stack once, to a size that fits it, before anything deep is called.
//
//go:noinline
func growStack() {
	var pad [intentStack]byte
	use(pad[:]) // a frame nothing reads could be optimized away
}

// use does nothing with b; being opaque to the compiler, it keeps
// growStack's frame.
//
//go:noinline
func use(b []byte) {}

// wait returns once the intent being written is journaled (or refused).
func (in *streamIntent) wait() {
	if in != nil && in.pending {
		in.done.Wait() // orders the write's in.err before the reads after wait
		in.pending = false
	}
}

// begin journals rec's stream, served in rec.InferenceRegion, before its
// first byte: the intent written during the attempt when it names that
// region, else a new one (beginStream).
func (g *Gateway) begin(ctx context.Context, in *streamIntent, rec *Record) error {
	in.wait()
	if in != nil && in.region != "" && in.region == rec.InferenceRegion {
		return in.err
	}
	return g.beginStream(ctx, rec)
}

// journalsStreams reports whether r hears of streams before their first
// byte: a StreamRecorder, or Recorders holding one (a node without an
// audit trail has none, and writes no intent).
func journalsStreams(r Recorder) bool {
	if rs, ok := r.(Recorders); ok {
		return slices.ContainsFunc(rs, journalsStreams)
	}
	_, ok := r.(StreamRecorder)
	return ok
}

// admit asks the recorder whether it could record a new request.
func (g *Gateway) admit() error {
	if a, ok := g.recorder.(Admitter); ok {
		return a.Admit()
	}
	return nil
}

// ErrRecorderOutage marks a recorder error that belongs to an outage the
// recorder reports itself (the audit trail logs its outage once and counts
// what it lost): the gateway logs each such request at debug only.
var ErrRecorderOutage = errors.New("recorder outage")

// logUnrecorded logs a request whose record failed. While the audit trail
// is unavailable every request fails so: the writer logs the outage once
// and its gap marker counts and names what it lost, so each is only a debug
// line, not a flood of errors.
func (g *Gateway) logUnrecorded(ctx context.Context, rec *Record, err error) {
	level := slog.LevelError
	if errors.Is(err, ErrRecorderOutage) {
		level = slog.LevelDebug
	}
	g.log.Log(ctx, level, "request not recorded", telemetry.AttrRequestID, rec.RequestID, telemetry.AttrError, err)
}
