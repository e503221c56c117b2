package telemetry

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// UniqueKeys wraps h so that an attribute key given again, by a later With
// or by the log call itself, replaces the earlier value rather than being
// written twice. Components derive their loggers with With("component", …)
// and some add keys their parent already set; JSON with duplicate keys is
// rejected by some log pipelines and read as "last wins" by others.
//
// A line logged with a context that carries a trace id (WithTraceID) gets
// it as trace_id, so a log line leads to its trace.
//
// Attributes added with With are held until the record is written (and
// passed to h when a group is opened), so the deduplication costs one
// record copy per written line, none for a disabled level.
func UniqueKeys(h slog.Handler) slog.Handler {
	if u, ok := h.(*uniqueKeys); ok {
		return u
	}
	return &uniqueKeys{inner: h}
}

type uniqueKeys struct {
	inner slog.Handler
	// attrs are the With attributes of the current (innermost) scope, not
	// yet passed to inner, each key once.
	attrs []slog.Attr
}

func (u *uniqueKeys) Enabled(ctx context.Context, l slog.Level) bool { return u.inner.Enabled(ctx, l) }

func (u *uniqueKeys) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return u
	}
	n := &uniqueKeys{inner: u.inner, attrs: make([]slog.Attr, len(u.attrs), len(u.attrs)+len(as))}
	copy(n.attrs, u.attrs)
	for _, a := range as {
		n.attrs = setAttr(n.attrs, a)
	}
	return n
}

func (u *uniqueKeys) WithGroup(name string) slog.Handler {
	if name == "" {
		return u
	}
	inner := u.inner
	if len(u.attrs) > 0 {
		inner = inner.WithAttrs(u.attrs)
	}
	return &uniqueKeys{inner: inner.WithGroup(name)}
}

func (u *uniqueKeys) Handle(ctx context.Context, r slog.Record) error {
	if id := TraceID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String(AttrTraceID, id))
	}
	if len(u.attrs) == 0 && r.NumAttrs() < 2 {
		return u.inner.Handle(ctx, r)
	}
	attrs := make([]slog.Attr, len(u.attrs), len(u.attrs)+r.NumAttrs())
	copy(attrs, u.attrs)
	r.Attrs(func(a slog.Attr) bool {
		attrs = setAttr(attrs, a)
		return true
	})
	n := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	n.AddAttrs(attrs...)
	return u.inner.Handle(ctx, n)
}

// setAttr replaces the attribute with a's key in as, or appends a. An
// empty key (an inline group) is always appended.
func setAttr(as []slog.Attr, a slog.Attr) []slog.Attr {
	if a.Key != "" {
		for i := range as {
			if as[i].Key == a.Key {
				as[i] = a
				return as
			}
		}
	}
	return append(as, a)
}

// AttrTraceID is the log key of the request's trace id (32 hex digits),
// on the lines a request writes while it is traced and sampled.
const AttrTraceID = "trace_id"

type traceIDKey struct{}

// traceRef is a request's trace id as its context carries it: withdrawn
// once it is known that the request's trace will not be exported (see
// WithdrawTraceID).
type traceRef struct {
	id        string
	withdrawn atomic.Bool
}

// WithTraceID returns ctx carrying the trace id of the request it serves,
// which UniqueKeys adds to every line logged with ctx (and the audit event
// records), until WithdrawTraceID withdraws it.
func WithTraceID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, traceIDKey{}, &traceRef{id: id})
}

// TraceID is the trace id WithTraceID put in ctx, or "" when there is none
// or it was withdrawn.
func TraceID(ctx context.Context) string {
	r, _ := ctx.Value(traceIDKey{}).(*traceRef)
	if r == nil || r.withdrawn.Load() {
		return ""
	}
	return r.id
}

// WithdrawTraceID withdraws the trace id WithTraceID put in ctx (or in the
// context ctx derives from): lines logged for the request from then on, in
// any context derived from the one that carries it, name no trace. The
// telemetry calls it when a request turns out to be one whose trace is not
// exported (refused before it authenticated), so that no line names a
// trace the collector never receives.
func WithdrawTraceID(ctx context.Context) {
	if r, _ := ctx.Value(traceIDKey{}).(*traceRef); r != nil {
		r.withdrawn.Store(true)
	}
}
