package gateway

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

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
//
// Where the write runs: when the attempt's backend can tell that its
// request was written (WrittenStreamer), on the backend's goroutine that
// wrote it (net/http's), right after: the upstream has the request by
// then, and no goroutine is started for the intent. Otherwise on a
// goroutine of its own, started before the attempt. Either way wait
// returns once it is journaled; a write the backend has not reported by
// then (a request that failed before it was written, an answer that came
// before the request's end) is claimed by wait, which writes the intent
// itself.
type streamIntent struct {
	rec    *Record // the request's record; nil writes no intent early
	region string  // the destination the journaled intent names
	err    error   // the outcome of the last write, set by its writer
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
	// onWrite: the write under way is the backend's report's (written)
	// or wait's, not a goroutine's.
	onWrite bool
	// state claims the write of an attempt started onWrite (intent*).
	state atomic.Int32
	// writtenFn is the method value in.written, made once per stream
	// (each method value is an allocation) and handed to every attempt.
	writtenFn func()
}

// The states of a write started onWrite: armed by start, claimed by
// exactly one of written (the backend's report) and wait. A report that
// comes once the write was claimed (net/http wrote the request again, or
// reported it after its answer) finds no armed write and does nothing;
// one that comes once a later attempt armed its write journals that
// attempt's intent, early but whole (start arms only once the record
// is set).
const (
	intentIdle int32 = iota
	intentArmed
	intentWritten // claimed by the backend's report
	intentWaited  // claimed by wait
)

// WrittenStreamer is implemented by a Backend that can tell when a
// stream's request has been written to the upstream: StreamWritten is
// Stream, calling written (on another goroutine, possibly more than once,
// or never when the request fails first) once it is. The gateway
// journals the stream's intent from it (streamIntent).
type WrittenStreamer interface {
	StreamWritten(ctx context.Context, req *inference.Request, written func()) (inference.Stream, error)
}

// writtenStreamer returns the backend that serves job's stream on exec
// when it reports its writes (WrittenStreamer). A peer's executor does
// not: its intent is written on a goroutine.
func (g *Gateway) writtenStreamer(exec Executor, job *Job) (WrittenStreamer, bool) {
	l, ok := exec.(localExecutor)
	if !ok {
		return nil, false
	}
	b, err := l.backend(job)
	if err != nil {
		return nil, false
	}
	ws, ok := b.(WrittenStreamer)
	return ws, ok
}

// stream runs job's stream on exec, journaling in's intent of an attempt
// at region meanwhile (start, the attempt, wait); in may be nil.
func (g *Gateway) stream(ctx context.Context, in *streamIntent, region string, exec Executor, job *Job) (inference.Stream, error) {
	if ws, ok := g.writtenStreamer(exec, job); ok && in.journals(g) {
		in.start(ctx, g, region, true)
		s, err := ws.StreamWritten(ctx, job.Request, in.writtenFn)
		in.wait()
		return s, err
	}
	in.start(ctx, g, region, false)
	s, err := exec.Stream(ctx, job)
	in.wait()
	return s, err
}

// journals reports whether in writes intents: a stream's, for a recorder
// that journals streams.
func (in *streamIntent) journals(g *Gateway) bool {
	return in != nil && in.rec != nil && journalsStreams(g.recorder)
}

// start writes the intent of an attempt at region in the background; wait
// collects the outcome. It does nothing when the recorder journals no
// streams. Every start is followed by a wait before the next. With
// onWrite, the write waits for written (the backend's report) or wait,
// whichever comes first; otherwise it runs on a goroutine of its own.
func (in *streamIntent) start(ctx context.Context, g *Gateway, region string, onWrite bool) {
	if !in.journals(g) {
		return
	}
	in.snap = *in.rec
	in.snap.InferenceRegion = region
	in.region, in.err = region, nil
	in.s = g.recorder.(StreamRecorder)
	// Not cancelled with the request: wait must mean journaled (see
	// beginStream).
	in.ctx = context.WithoutCancel(ctx)
	in.done.Add(1)
	in.pending, in.onWrite = true, onWrite
	if onWrite {
		if in.writtenFn == nil {
			in.writtenFn = in.written
		}
		in.state.Store(intentArmed) // publishes the fields above to written
		return
	}
	go in.write()
}

// written is the backend's report that the attempt's request was written:
// it journals the intent armed, if wait has not claimed it.
func (in *streamIntent) written() {
	if in.state.CompareAndSwap(intentArmed, intentWritten) {
		in.err = in.s.BeginStream(in.ctx, &in.snap)
		in.done.Done()
	}
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
// A write started onWrite that the backend has not reported is claimed
// and done here.
func (in *streamIntent) wait() {
	if in == nil || !in.pending {
		return
	}
	if in.onWrite && in.state.CompareAndSwap(intentArmed, intentWaited) {
		in.err = in.s.BeginStream(in.ctx, &in.snap)
		in.done.Done()
	}
	in.done.Wait() // orders the writer's in.err before the reads after wait
	in.pending = false
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
