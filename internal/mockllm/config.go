package mockllm

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"
)

// Config configures a [Server]. The zero value is useful: it serves any model
// name as fast as it can (no pacing), with no limits and no faults, which is
// what benchmarks want. [Default] returns the settings of `meridian mockllm`.
type Config struct {
	// Models lists the model ids the server serves; /v1/models lists them
	// and a request for any other model gets OpenAI's 404 model_not_found.
	// If empty, every model name is accepted and echoed back, and /v1/models
	// returns an empty list.
	Models []string

	// TTFT is the time to first token: the delay between admitting a request
	// and its first content delta. Zero means no delay.
	TTFT time.Duration
	// TokensPerSecond paces content deltas after the first one. Zero means
	// unpaced: deltas are written as fast as the connection takes them.
	TokensPerSecond float64
	// CompletionTokens is the length, in tokens, of a completion that
	// max_tokens or a stop sequence does not cut short. If zero, each
	// completion's length is drawn from the seed and the prompt, between 16
	// and 64 tokens.
	CompletionTokens int

	// MaxConcurrency is the number of model requests (chat completions,
	// embeddings, Bedrock operations) served at once; one more is refused
	// with 429 and Retry-After. Zero means unlimited.
	MaxConcurrency int
	// RPM is the number of model requests (chat completions, embeddings,
	// Bedrock operations) admitted in any sliding window of 60 seconds.
	// Zero means unlimited.
	RPM int
	// TPM is the number of tokens (prompt plus completion) admitted in any
	// sliding window of 60 seconds. A request is charged its prompt plus the
	// completion it is about to produce, corrected to what it did produce
	// when it ends; an embeddings request its input tokens. Zero means
	// unlimited.
	TPM int

	// FailRate is the probability, in [0, 1], that an admitted request fails
	// with FailStatus instead of being served. The draws are a deterministic
	// function of Seed and the order in which requests arrive.
	FailRate float64
	// FailStatus is the HTTP status of injected failures, 400 to 599.
	// If zero, 500 is used.
	FailStatus int
	// AbortAfterTokens, if positive, cuts every completion longer than that
	// many tokens by aborting the connection once they are produced: a
	// stream stops after that many content deltas with no finish chunk and
	// no [DONE]; a non-streaming request gets no response at all. It
	// simulates a backend that dies after the first byte. Zero disables it.
	AbortAfterTokens int

	// Seed makes completions and injected failures reproducible: servers with
	// the same seed answer the same request with the same text.
	Seed int64

	// APIKey, if set, must be presented as "Authorization: Bearer <key>";
	// other requests get OpenAI's 401 invalid_api_key. If empty, any or no
	// key is accepted.
	APIKey string

	// DrainTimeout is how long [Server.Serve] lets in-flight requests finish
	// after its context is cancelled before it aborts them.
	// If zero, 5s is used; if negative, they are aborted at once.
	DrainTimeout time.Duration

	// Received, if set, is called with the URL path and a copy of the body
	// of every request the server reads (chat completions, embeddings,
	// Bedrock), before it is answered: tests see what reached the model.
	// It is called from the request's goroutine and must be safe for
	// concurrent use.
	Received func(path string, body []byte)
	// ServiceTiers lists, by model id, the service tiers besides default
	// each model offers (priority, flex): a request asking one model for
	// another tier (Bedrock's header or Converse serviceTier, OpenAI's
	// service_tier) is refused as the real upstream refuses it, Bedrock's
	// 400 ValidationException or OpenAI's 400 invalid_request_error. A
	// model the map does not name offers none. If nil, the table of
	// Bedrock's service-tier page applies (DefaultServiceTiers).
	ServiceTiers map[string][]string
	// ServedTier, if set, is the tier an answer reports it was served in
	// whenever its request asked for priority or flex (Bedrock serving
	// another tier than asked, e.g. flex as default); if empty, the tier
	// asked for.
	ServedTier string
	// ReceivedMetadata, if set, is called with the URL path and the
	// request metadata of every Bedrock request the server reads (the
	// Converse body's requestMetadata, InvokeModel's
	// X-Amzn-Bedrock-Request-Metadata header), nil when it has none,
	// before it is answered: tests see what reached the model's invocation
	// log. Metadata Bedrock would refuse (not an object of strings, past
	// its limits) is refused with a 400 ValidationException instead. It is
	// called from the request's goroutine and must be safe for concurrent
	// use.
	ReceivedMetadata func(path string, metadata map[string]string)

	// Clock tells time for pacing and rate-limit windows.
	// If nil, the system clock is used.
	Clock Clock
	// Logger receives one debug record per request and errors of the server.
	// If nil, nothing is logged.
	Logger *slog.Logger
}

// Default returns the configuration of `meridian mockllm` without flags: a
// modest, realistic model (200ms to first token, 50 tokens a second) with no
// limits and no faults.
func Default() Config {
	return Config{
		TTFT:            200 * time.Millisecond,
		TokensPerSecond: 50,
		FailStatus:      500,
	}
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("mockllm: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.TTFT < 0 {
		bad("ttft", "%v is negative; use 0 for no delay", c.TTFT)
	}
	if c.TokensPerSecond < 0 || math.IsNaN(c.TokensPerSecond) || math.IsInf(c.TokensPerSecond, 0) {
		bad("tokens_per_second", "%v is not a finite number >= 0; use 0 for unpaced", c.TokensPerSecond)
	}
	if c.CompletionTokens < 0 {
		bad("completion_tokens", "%d is negative; use 0 for a length drawn from the seed", c.CompletionTokens)
	}
	if c.MaxConcurrency < 0 {
		bad("max_concurrency", "%d is negative; use 0 for unlimited", c.MaxConcurrency)
	}
	if c.RPM < 0 {
		bad("rpm", "%d is negative; use 0 for unlimited", c.RPM)
	}
	if c.TPM < 0 {
		bad("tpm", "%d is negative; use 0 for unlimited", c.TPM)
	}
	if !(c.FailRate >= 0 && c.FailRate <= 1) {
		bad("fail_rate", "%v is outside [0, 1]", c.FailRate)
	}
	if c.FailStatus != 0 && (c.FailStatus < 400 || c.FailStatus > 599) {
		bad("fail_status", "%d is not an HTTP error status; use 400 to 599 (for example 500, 503 or 429)", c.FailStatus)
	}
	if c.AbortAfterTokens < 0 {
		bad("abort_after_tokens", "%d is negative; use 0 to disable", c.AbortAfterTokens)
	}
	seen := make(map[string]bool, len(c.Models))
	for i, m := range c.Models {
		switch {
		case m == "":
			bad(fmt.Sprintf("models[%d]", i), "empty model id")
		case seen[m]:
			bad(fmt.Sprintf("models[%d]", i), "duplicate model id %q", m)
		}
		seen[m] = true
	}
	return errors.Join(errs...)
}
