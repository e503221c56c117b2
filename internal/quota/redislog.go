package quota

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// go-redis writes its own log lines (a pool that cannot dial, a cluster
// whose nodes all fail) through one logger for the whole process, by
// default straight to stderr in its own format, bypassing the node's slog
// handler and --log-format json. The first Redis limiter of the process
// replaces that logger with redisLogs, which hands each line to the slog
// logger of the limiter whose client it came from when the line names a
// dial's error (each Redis client carries a hook that marks them), or else
// of the limiter registered first (a process runs one node; a test process
// may run several); with none open, to slog.Default(). Each limiter logs a kind of line (its format)
// at most once per logInterval, with the count of those it left out: while
// the store is down, the limiter's own "quota store still unavailable"
// says the same every logInterval.

// redisLogTarget is one limiter's end of the router.
type redisLogTarget struct {
	log   *slog.Logger
	clock Clock

	mu   sync.Mutex
	seen map[string]*redisLogSeen // by format
}

type redisLogSeen struct {
	last    time.Time
	skipped int // since last
}

type redisLogRouter struct {
	mu      sync.Mutex
	targets []*redisLogTarget // in the order of registration
}

var (
	redisLogs    = &redisLogRouter{}
	redisLogOnce sync.Once
)

// register makes t receive go-redis's lines (installing the process's
// router, redisLogs, as go-redis's logger the first time, whichever router
// registers first: a test's own router must not become it) until the
// returned func is called.
func (r *redisLogRouter) register(t *redisLogTarget) (unregister func()) {
	redisLogOnce.Do(func() { redis.SetLogger(redisLogs) })
	r.mu.Lock()
	r.targets = append(r.targets, t)
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.targets = slices.DeleteFunc(r.targets, func(o *redisLogTarget) bool { return o == t })
	}
}

// Printf implements go-redis's logging interface.
func (r *redisLogRouter) Printf(ctx context.Context, format string, v ...any) {
	t := targetOf(v)
	r.mu.Lock()
	if t == nil || !slices.Contains(r.targets, t) {
		t = nil
		if len(r.targets) > 0 {
			t = r.targets[0]
		}
	}
	r.mu.Unlock()
	if t == nil {
		t = &redisLogTarget{log: slog.Default(), clock: clock.Wall}
	}
	t.printf(format, v...)
}

func (t *redisLogTarget) printf(format string, v ...any) {
	now := t.clock.Now()
	t.mu.Lock()
	if t.seen == nil {
		t.seen = map[string]*redisLogSeen{}
	}
	s := t.seen[format]
	if s != nil && now.Sub(s.last) < logInterval {
		s.skipped++
		t.mu.Unlock()
		return
	}
	skipped := 0
	if s != nil {
		skipped = s.skipped
	}
	t.seen[format] = &redisLogSeen{last: now}
	t.mu.Unlock()
	msg := strings.TrimPrefix(strings.TrimSpace(fmt.Sprintf(format, v...)), "redis: ")
	attrs := []any{"source", "go-redis"}
	if skipped > 0 {
		attrs = append(attrs, "repeated", skipped)
	}
	t.log.Warn("redis client: "+msg, attrs...)
}

// redisLogHook marks the errors of a client's dials with the target of
// the limiter over its store: go-redis dials in goroutines of its own,
// with a context of no command, and logs the dial's error after the hook
// returns, so the error is what carries the target to Printf. The wrapper
// keeps the message and unwraps to the dial's error, so that go-redis's
// retry decisions and the store's classification (errors.As) see what
// they always did.
//
// NewRedis installs it on the client that dials: the client of a single
// server, and on a cluster each node's client as the cluster client makes
// it (a hook added to the cluster client itself wraps a dial function
// that nothing calls: its nodes' dials went unmarked, and their lines to
// whichever limiter registered first). The target is read at each dial,
// so that a node made before the limiter (a store pinged before New) is
// marked too.
type redisLogHook struct {
	to *atomic.Pointer[redisLogTarget]
}

func (h redisLogHook) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err != nil {
			if t := h.to.Load(); t != nil {
				err = &redisDialError{err: err, t: t}
			}
		}
		return c, err
	}
}

func (h redisLogHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h redisLogHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

type redisDialError struct {
	err error
	t   *redisLogTarget
}

func (e *redisDialError) Error() string { return e.err.Error() }
func (e *redisDialError) Unwrap() error { return e.err }

// targetOf returns the target of the first of args that is a marked dial
// error, or nil.
func targetOf(args []any) *redisLogTarget {
	for _, a := range args {
		if err, ok := a.(error); ok {
			var d *redisDialError
			if errors.As(err, &d) {
				return d.t
			}
		}
	}
	return nil
}
