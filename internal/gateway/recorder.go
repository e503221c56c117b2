package gateway

import (
	"context"
	"errors"
	"log/slog"

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
func (g *Gateway) beginStream(ctx context.Context, rec *Record) error {
	if s, ok := g.recorder.(StreamRecorder); ok {
		return s.BeginStream(ctx, rec)
	}
	return nil
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
func (g *Gateway) logUnrecorded(rec *Record, err error) {
	level := slog.LevelError
	if errors.Is(err, ErrRecorderOutage) {
		level = slog.LevelDebug
	}
	g.log.Log(context.Background(), level, "request not recorded", telemetry.AttrRequestID, rec.RequestID, telemetry.AttrError, err)
}
