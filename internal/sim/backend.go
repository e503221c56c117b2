package sim

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/meridian-gateway/meridian/internal/routing"
)

// Outage modes of a simulated backend.
const (
	up = iota
	downConnect
	downTimeout
)

// backend is the ground truth of one deployment: what it admits, how fast it
// answers. Routers never read it, except the oracle.
type backend struct {
	cfg      Deployment
	region   int
	factor   float64 // capacity scale during a throttle event
	down     int
	inFlight int
	win      simWindow
	rng      *rand.Rand
}

// limits returns the capacity in force.
func (b *backend) limits() (conc, rpm, tpm int) {
	scale := func(v int) int {
		if v == 0 {
			return 0
		}
		return max(1, int(math.Ceil(float64(v)*b.factor)))
	}
	c := b.cfg.Capacity
	return scale(c.MaxConcurrency), scale(c.RPM), scale(c.TPM)
}

// admit decides an attempt arriving at now (ns since start) carrying tokens:
// ok, or the kind and Retry-After of the rejection.
func (b *backend) admit(now int64, tokens int) (ok bool, kind routing.OutcomeKind, retryAfter time.Duration) {
	switch b.down {
	case downConnect:
		return false, routing.ConnectError, 0
	case downTimeout:
		return false, routing.Timeout, 0
	}
	conc, rpm, tpm := b.limits()
	sec := now / int64(time.Second)
	b.win.advance(sec)
	if conc > 0 && b.inFlight >= conc {
		return false, routing.Throttled, 0 // no Retry-After: busy, not over quota
	}
	if (rpm > 0 && b.win.sumReq+1 > rpm) || (tpm > 0 && b.win.sumTok+tokens > tpm) {
		return false, routing.Throttled, b.win.retryAfter(now)
	}
	if b.cfg.ErrorRate > 0 && b.rng.Float64() < b.cfg.ErrorRate {
		return false, routing.ServerError, 0
	}
	b.win.add(sec, tokens)
	return true, routing.Success, 0
}

// ttft returns the time to first token of a request of prompt tokens started
// now, given the request's jitter draw z ~ N(0,1).
func (b *backend) ttft(prompt int, z float64) time.Duration {
	m := b.cfg.TTFT
	t := float64(m.Base.D()) + float64(prompt)*float64(m.PerPromptToken.D())
	if conc, _, _ := b.limits(); conc > 0 && m.Load > 0 {
		t *= 1 + m.Load*float64(b.inFlight)/float64(conc)
	}
	if m.Jitter > 0 {
		t *= math.Exp(m.Jitter*z - m.Jitter*m.Jitter/2)
	}
	return time.Duration(t)
}

// generation returns the time to stream output tokens.
func (b *backend) generation(output int) time.Duration {
	tps := b.cfg.TokensPerSecond
	if tps <= 0 {
		tps = 50
	}
	return time.Duration(float64(output) / tps * float64(time.Second))
}

// free reports whether the backend would admit tokens now (for the oracle).
func (b *backend) free(now int64, tokens int) (bool, float64) {
	if b.down != up {
		return false, 0
	}
	conc, rpm, tpm := b.limits()
	b.win.advance(now / int64(time.Second))
	h := 1.0
	if conc > 0 {
		h = min(h, 1-float64(b.inFlight)/float64(conc))
	}
	if rpm > 0 {
		h = min(h, 1-float64(b.win.sumReq)/float64(rpm))
	}
	if tpm > 0 {
		h = min(h, 1-float64(b.win.sumTok)/float64(tpm))
	}
	ok := (conc == 0 || b.inFlight < conc) && (rpm == 0 || b.win.sumReq < rpm) && (tpm == 0 || b.win.sumTok+tokens <= tpm)
	return ok, h
}

// simWindow counts requests and tokens of the last minute in one-second
// buckets, as providers enforce RPM and TPM.
type simWindow struct {
	last   int64
	reqs   [60]int32
	toks   [60]int64
	sumReq int
	sumTok int
}

func (w *simWindow) advance(sec int64) {
	if sec <= w.last {
		return
	}
	if sec-w.last >= 60 {
		*w = simWindow{last: sec}
		return
	}
	for s := w.last + 1; s <= sec; s++ {
		i := s % 60
		w.sumReq -= int(w.reqs[i])
		w.sumTok -= int(w.toks[i])
		w.reqs[i], w.toks[i] = 0, 0
	}
	w.last = sec
}

func (w *simWindow) add(sec int64, tokens int) {
	w.advance(sec)
	i := w.last % 60
	w.reqs[i]++
	w.toks[i] += int64(tokens)
	w.sumReq++
	w.sumTok += tokens
}

// retryAfter is when the oldest counted second leaves the window.
func (w *simWindow) retryAfter(now int64) time.Duration {
	for s := w.last - 59; s <= w.last; s++ {
		if s >= 0 && w.reqs[s%60] > 0 {
			d := time.Duration((s+60)*int64(time.Second) - now)
			return max(d, time.Second)
		}
	}
	return time.Second
}
