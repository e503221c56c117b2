package mockllm

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"
)

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string such as "250ms" or "1m30s".
type Duration time.Duration

// MarshalJSON writes d as a duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string; numbers are rejected because their
// unit would be a guess.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"250ms\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("parse duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// Control changes a running server's knobs; nil fields are left as they
// are. It is the body of POST /mockllm/v1/control and the argument of
// [Server.Apply].
type Control struct {
	// Down, when true, answers every /v1 request and /healthz with 503 until
	// set false again.
	Down *bool `json:"down,omitempty"`
	// Throttle, when positive, answers every model request (chat
	// completions, embeddings and the Bedrock routes) with 429 and
	// Retry-After of that long (rounded up to seconds); zero lifts it.
	Throttle *Duration `json:"throttle,omitempty"`
	// FailRate and FailStatus replace [Config.FailRate] and
	// [Config.FailStatus].
	FailRate   *float64 `json:"fail_rate,omitempty"`
	FailStatus *int     `json:"fail_status,omitempty"`
	// AbortAfterTokens replaces [Config.AbortAfterTokens]; 0 disables it.
	AbortAfterTokens *int `json:"abort_after_tokens,omitempty"`
	// TTFT and TokensPerSecond replace the pacing of requests admitted
	// from now on.
	TTFT            *Duration `json:"ttft,omitempty"`
	TokensPerSecond *float64  `json:"tokens_per_second,omitempty"`
	// MaxConcurrency, RPM and TPM replace the limits; 0 means unlimited.
	MaxConcurrency *int `json:"max_concurrency,omitempty"`
	RPM            *int `json:"rpm,omitempty"`
	TPM            *int `json:"tpm,omitempty"`
	// ResetWindow forgets the requests and tokens counted against RPM and
	// TPM so far.
	ResetWindow bool `json:"reset_window,omitempty"`
}

// State is the current value of every knob a [Control] can change; each
// field means what the [Control] field of the same name sets.
type State struct {
	Down             bool     `json:"down"`
	Throttle         Duration `json:"throttle"`
	FailRate         float64  `json:"fail_rate"`
	FailStatus       int      `json:"fail_status"`
	AbortAfterTokens int      `json:"abort_after_tokens"`
	TTFT             Duration `json:"ttft"`
	TokensPerSecond  float64  `json:"tokens_per_second"`
	MaxConcurrency   int      `json:"max_concurrency"`
	RPM              int      `json:"rpm"`
	TPM              int      `json:"tpm"`
}

// Apply changes the server's knobs as c says, atomically: if any field is
// invalid it reports every problem and changes nothing.
func (s *Server) Apply(c Control) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := *s.cur.Load()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Down != nil {
		next.down = *c.Down
	}
	if c.Throttle != nil {
		next.throttle = max(time.Duration(*c.Throttle), 0)
	}
	if c.FailRate != nil {
		if r := *c.FailRate; !(r >= 0 && r <= 1) {
			bad("fail_rate", "%v is outside [0, 1]", r)
		}
		next.failRate = *c.FailRate
	}
	if c.FailStatus != nil {
		if st := *c.FailStatus; st < 400 || st > 599 {
			bad("fail_status", "%d is not an HTTP error status; use 400 to 599", st)
		}
		next.failStatus = *c.FailStatus
	}
	if c.TTFT != nil {
		if *c.TTFT < 0 {
			bad("ttft", "%v is negative; use \"0s\" for no delay", time.Duration(*c.TTFT))
		}
		next.ttft = time.Duration(*c.TTFT)
	}
	if c.TokensPerSecond != nil {
		if v := *c.TokensPerSecond; v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			bad("tokens_per_second", "%v is not a finite number >= 0; use 0 for unpaced", v)
		}
		next.tps = *c.TokensPerSecond
	}
	for _, f := range []struct {
		name string
		v    *int
		dst  *int
	}{{"max_concurrency", c.MaxConcurrency, &next.maxConcurrency}, {"rpm", c.RPM, &next.limits.rpm}, {"tpm", c.TPM, &next.limits.tpm},
		{"abort_after_tokens", c.AbortAfterTokens, &next.abortAfter}} {
		if f.v == nil {
			continue
		}
		if *f.v < 0 {
			bad(f.name, "%d is negative; use 0 for none", *f.v)
		}
		*f.dst = *f.v
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.cur.Store(&next)
	if c.ResetWindow {
		s.win.reset()
	}
	return nil
}

// State returns the current value of every run-time knob.
func (s *Server) State() State {
	st := s.cur.Load()
	return State{
		Down:             st.down,
		Throttle:         Duration(st.throttle),
		FailRate:         st.failRate,
		FailStatus:       st.failStatus,
		AbortAfterTokens: st.abortAfter,
		TTFT:             Duration(st.ttft),
		TokensPerSecond:  st.tps,
		MaxConcurrency:   st.maxConcurrency,
		RPM:              st.limits.rpm,
		TPM:              st.limits.tpm,
	}
}

// SetDown takes the server down (every /v1 request and /healthz answer 503)
// or brings it back up.
func (s *Server) SetDown(down bool) { s.mustApply(Control{Down: &down}) }

// SetThrottled answers every model request (chat completions, embeddings,
// the Bedrock routes) with 429 and a Retry-After of
// retryAfter (rounded up to whole seconds) until called again with zero,
// which lifts the throttle.
func (s *Server) SetThrottled(retryAfter time.Duration) {
	d := Duration(max(retryAfter, 0))
	s.mustApply(Control{Throttle: &d})
}

// SetFailRate sets the probability of an injected failure, clamped to [0, 1].
func (s *Server) SetFailRate(rate float64) {
	if math.IsNaN(rate) {
		rate = 0
	}
	rate = min(max(rate, 0), 1)
	s.mustApply(Control{FailRate: &rate})
}

// SetAbortAfterTokens makes completions longer than n tokens die after n
// tokens by aborting the connection (see [Config.AbortAfterTokens]); zero or
// negative disables it.
func (s *Server) SetAbortAfterTokens(n int) {
	n = max(n, 0)
	s.mustApply(Control{AbortAfterTokens: &n})
}

// SetLimits replaces the concurrency, RPM and TPM limits; zero or negative
// means unlimited. Requests already admitted keep running.
func (s *Server) SetLimits(maxConcurrency, rpm, tpm int) {
	maxConcurrency, rpm, tpm = max(maxConcurrency, 0), max(rpm, 0), max(tpm, 0)
	s.mustApply(Control{MaxConcurrency: &maxConcurrency, RPM: &rpm, TPM: &tpm})
}

// SetPacing replaces the time to first token and the tokens-per-second rate
// (zero: unpaced) for requests admitted from now on. Negative values count
// as zero.
func (s *Server) SetPacing(ttft time.Duration, tokensPerSecond float64) {
	d := Duration(max(ttft, 0))
	if !(tokensPerSecond > 0) || math.IsInf(tokensPerSecond, 0) {
		tokensPerSecond = 0
	}
	s.mustApply(Control{TTFT: &d, TokensPerSecond: &tokensPerSecond})
}

// mustApply applies a control built from already-clamped values.
func (s *Server) mustApply(c Control) {
	if err := s.Apply(c); err != nil {
		panic("mockllm: " + err.Error()) // the setters clamp; unreachable
	}
}

// controlReply is the body answered by /mockllm/v1/control.
type controlReply struct {
	State State `json:"state"`
	Stats Stats `json:"stats"`
}

// serveControl answers GET (the state and stats) and POST (apply a Control,
// then the same) on /mockllm/v1/control. It is not behind the API key or the
// outage switch, so that an operator can always bring a server back.
func (s *Server) serveControl(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		var c Control
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			invalidRequest("", "", "Invalid control request: "+err.Error()).write(w)
			return
		}
		if err := s.Apply(c); err != nil {
			invalidRequest("", "", "Invalid control request: "+err.Error()).write(w)
			return
		}
	}
	b, _ := json.Marshal(controlReply{State: s.State(), Stats: s.Stats()})
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n'))
}
