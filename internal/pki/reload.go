package pki

import (
	"context"
	"crypto/x509"
	"github.com/meridian-gateway/meridian/internal/clock"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// watchDefaults fills in what a store of watched files left zero: a
// discarding logger, the system clock, [DefaultPollInterval] and
// [DefaultExpiryWarning].
func watchDefaults(log *slog.Logger, clk Clock, poll, warn time.Duration) (*slog.Logger, Clock, time.Duration, time.Duration) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clk == nil {
		clk = clock.Wall
	}
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	if warn <= 0 {
		warn = DefaultExpiryWarning
	}
	return log, clk, poll, warn
}

// pollReload calls reload every interval of clk until ctx is done, then
// returns ctx.Err(). Reload failures are the reloader's to log. A clk that
// only tells the time (a test's) is paced by clock.Wall.
func pollReload(ctx context.Context, clk Clock, every time.Duration, reload func() (bool, error)) error {
	tc, ok := clk.(interface {
		NewTicker(time.Duration) clock.Ticker
	})
	if !ok {
		tc = clock.Wall
	}
	t := tc.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C():
			_, _ = reload()
		}
	}
}

// reloadLog counts the reloads of one set of files and logs a refused one
// once per distinct problem, however often the files are polled. The
// caller serializes its use.
type reloadLog struct {
	log     *slog.Logger
	what    string // e.g. "link certificate"
	changed prometheus.Counter
	refused prometheus.Counter
	lastErr string
}

// record notes the outcome of one reload.
func (r *reloadLog) record(changed bool, err error) {
	if changed {
		r.changed.Inc()
	}
	if err == nil {
		r.lastErr = ""
		return
	}
	r.refused.Inc()
	if msg := err.Error(); msg != r.lastErr {
		r.lastErr = msg
		r.log.Warn(r.what+" reload refused; keeping the previous material", telemetry.AttrError, err)
	}
}

// expiryWarner logs that a certificate expires soon (WARN), or has expired
// (ERROR), from within before its expiry and at most once per warnEvery per
// certificate and state, however often the files are polled. The two
// states are suppressed apart: an "expires soon" warning never hides the
// "expired" line, which is logged at the first check past NotAfter. The
// caller serializes its use.
type expiryWarner struct {
	log      *slog.Logger
	what     string // e.g. "link certificate"
	within   time.Duration
	warnedAt map[string]time.Time // by kind, state and the certificate's last bytes
}

// check warns about c (of the given kind, read from file) if it is due.
func (w *expiryWarner) check(now time.Time, kind, file string, c *x509.Certificate) {
	left := c.NotAfter.Sub(now)
	if left > w.within {
		return
	}
	expired := left <= 0
	state := "soon:"
	if expired {
		state = "expired:"
	}
	key := state + kind + string(c.Raw[len(c.Raw)-16:])
	if t, ok := w.warnedAt[key]; ok && now.Sub(t) < warnEvery {
		return
	}
	if w.warnedAt == nil {
		w.warnedAt = map[string]time.Time{}
	}
	w.warnedAt[key] = now
	attrs := []any{"certificate", kind, "file", file, "subject", c.Subject.CommonName,
		"not_after", c.NotAfter, "days_left", int(left.Hours() / 24)}
	if expired {
		w.log.Error(w.what+" expired", attrs...)
		return
	}
	w.log.Warn(w.what+" expires soon", attrs...)
}
