package quota

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
)

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// goRedisLines returns the JSON log lines that came from go-redis.
func (s *syncBuffer) goRedisLines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		if m["source"] == "go-redis" {
			out = append(out, m)
		}
	}
	return out
}

// chanHandler sends the records of go-redis's lines, with the logger's
// attributes, to a channel.
type chanHandler struct {
	attrs []slog.Attr
	ch    chan map[string]any
}

func (h chanHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chanHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return chanHandler{attrs: append(slices.Clip(h.attrs), as...), ch: h.ch}
}
func (h chanHandler) WithGroup(string) slog.Handler { return h }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error {
	m := map[string]any{"msg": r.Message, "level": r.Level.String()}
	for _, a := range h.attrs {
		m[a.Key] = a.Value.Any()
	}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.Any(); return true })
	if m["source"] == "go-redis" {
		select {
		case h.ch <- m:
		default: // the test reads the first few only
		}
	}
	return nil
}

// TestGoRedisLogsThroughSlog: go-redis's own line about a store it cannot
// reach (a pool that fails to dial, logged from go-redis's own goroutine)
// reaches the slog logger of the limiter whose client dialled, with its
// attributes, not stderr in go-redis's format; two limiters in one
// process (as two nodes in a test) each get their own.
func TestGoRedisLogsThroughSlog(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every dial is refused at once

	clk := clock.NewManual(time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC))
	open := func(region string) (*Limiter, chan map[string]any) {
		ch := make(chan map[string]any, 16)
		log := slog.New(chanHandler{ch: ch}).With("region", region)
		l, err := Open(Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://" + addr + "/0"}, OnStoreError: FailOpen}, Options{Logger: log, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l, ch
	}
	eu, euLog := open("eu-west-1")
	us, usLog := open("us-east-1")
	for _, tc := range []struct {
		l      *Limiter
		lines  chan map[string]any
		region string
	}{{eu, euLog, "eu-west-1"}, {us, usLog, "us-east-1"}} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
		if r, err := tc.l.Admit(ctx, Request{Principal: "alice", Limits: Limits{RPM: 5}}); err == nil {
			r.Release(ctx)
		}
		select {
		case m := <-tc.lines:
			if msg, _ := m["msg"].(string); !strings.HasPrefix(msg, "redis client: connection pool: failed to dial") ||
				m["level"] != "WARN" || m["component"] != "quota" || m["region"] != tc.region {
				t.Errorf("%s: line = %v, want a WARN \"redis client: connection pool: failed to dial...\" with the limiter's attributes", tc.region, m)
			}
		case <-ctx.Done():
			t.Fatalf("%s: go-redis's line never reached the limiter's logger", tc.region)
		}
		cancel()
	}
}

// TestGoRedisLogRateLimited: each kind of line (its format) at most once
// per logInterval by the limiter's clock; the next one counts those left
// out.
func TestGoRedisLogRateLimited(t *testing.T) {
	t.Parallel()
	clk := clock.NewManual(time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC))
	var buf syncBuffer
	tg := &redisLogTarget{log: slog.New(slog.NewJSONHandler(&buf, nil)), clock: clk}
	const dial = "redis: connection pool: failed to dial after %d attempts: %v"
	for _, step := range []struct {
		advance time.Duration
		format  string
	}{{0, dial}, {time.Second, dial}, {5 * time.Second, dial}, {0, "redis: other %d"}, {logInterval, dial}} {
		clk.Advance(step.advance)
		tg.printf(step.format, 1, "refused")
	}
	var got []string
	for _, m := range buf.goRedisLines(t) {
		got = append(got, fmt.Sprint(m["msg"], " repeated=", m["repeated"]))
	}
	want := []string{
		"redis client: connection pool: failed to dial after 1 attempts: refused repeated=<nil>",
		"redis client: other 1%!(EXTRA string=refused) repeated=<nil>",
		"redis client: connection pool: failed to dial after 1 attempts: refused repeated=2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestGoRedisLogWithoutLimiter: a line of no limiter's command, with no
// limiter open, goes to slog's default logger (a node's process sets it),
// never to a closed limiter's logger.
func TestGoRedisLogWithoutLimiter(t *testing.T) {
	var closedBuf syncBuffer
	r := &redisLogRouter{}
	gone := &redisLogTarget{log: slog.New(slog.NewJSONHandler(&closedBuf, nil)), clock: clock.Wall}
	r.register(gone)()
	var def syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&def, nil)))
	defer slog.SetDefault(prev)
	r.Printf(context.Background(), "redis: %v", &redisDialError{err: errors.New("x"), t: gone})
	if n := len(closedBuf.goRedisLines(t)); n != 0 {
		t.Errorf("a closed limiter's logger got %d lines", n)
	}
	if lines := def.goRedisLines(t); len(lines) != 1 || lines[0]["msg"] != "redis client: x" {
		t.Errorf("default logger lines = %v, want one \"redis client: x\"", lines)
	}
}

// TestGoRedisDialLogsReachTheirLimiter: with a real redis-server, single
// and cluster, stopped under a limiter, go-redis's line about the dial it
// cannot make reaches that limiter's logger, not the logger of another
// limiter of the process that registered first. A cluster client dials
// nothing itself (its nodes' clients do): the hook added to it marked no
// dial, and the line went to the first limiter.
func TestGoRedisDialLogsReachTheirLimiter(t *testing.T) {
	tests := []struct {
		name  string
		start func(t *testing.T) (store func(t *testing.T) *Redis, stop func())
	}{
		{"single", func(t *testing.T) (func(t *testing.T) *Redis, func()) {
			s := startRedis(t)
			return func(t *testing.T) *Redis { return s.newClient(t, "dial:", nil) }, s.stop
		}},
		{"cluster", func(t *testing.T) (func(t *testing.T) *Redis, func()) {
			c := startRedisCluster(t)
			return func(t *testing.T) *Redis { return c.newClient(t, "dial:", nil) }, c.stop
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			newStore, stop := tc.start(t)
			clk := clock.NewManual(time.Date(2026, 12, 7, 19, 0, 0, 0, time.UTC))
			// Another limiter of the process, registered first: what
			// carries no dial error's mark goes to it.
			firstLog := make(chan map[string]any, 64)
			first, err := Open(Config{Store: StoreRedis, Redis: RedisConfig{URL: "redis://127.0.0.1:1/0"}},
				Options{Logger: slog.New(chanHandler{ch: firstLog}).With("region", "first"), Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			ownLog := make(chan map[string]any, 64)
			// The store is used (pinged: a cluster's nodes are made)
			// before the limiter exists.
			s := newStore(t)
			l, err := New(Config{OnStoreError: FailOpen}, s, Options{Logger: slog.New(chanHandler{ch: ownLog}).With("region", "own"), Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			stop()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
			defer cancel()
			isDial := func(m map[string]any) bool {
				msg, _ := m["msg"].(string)
				return strings.HasPrefix(msg, "redis client: connection pool: failed to dial")
			}
			for probes := 1; ; probes++ {
				// Each admission is a probe of the store (the clock
				// moves a probe interval): it dials.
				clk.Advance(probeInterval)
				if r, err := l.Admit(ctx, Request{Principal: "alice", Limits: Limits{RPM: 5}}); err == nil {
					r.Release(ctx)
				}
				select {
				case m := <-ownLog:
					if !isDial(m) {
						continue
					}
					if m["region"] != "own" || m["component"] != "quota" || m["level"] != "WARN" {
						t.Errorf("line = %v, want a WARN with the limiter's attributes", m)
					}
					t.Logf("the dial's line came after %d probes", probes)
				case m := <-firstLog:
					if isDial(m) {
						t.Fatalf("the dial's line went to the limiter registered first: %v", m)
					}
					continue
				case <-ctx.Done():
					t.Fatal("go-redis's dial line never reached the limiter's logger")
				default:
					continue
				}
				break
			}
		})
	}
}
