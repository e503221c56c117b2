package mockllm

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/meridian-gateway/meridian/internal/jsonesc"
)

// serveChat answers POST /v1/chat/completions. Checks run in this order:
// API key, body, model, outage, manual throttle, injected failure,
// concurrency, RPM and TPM; then the completion is generated and paced.
func (s *Server) serveChat(w http.ResponseWriter, r *http.Request) {
	if s.testHookDone != nil {
		defer s.testHookDone()
	}
	id := s.stats.requests.Add(1)
	st := s.cur.Load()
	h := w.Header()
	start := s.clock.Now()
	reject := func(e *apiError) {
		if st.limits.any() && h.Get(HeaderLimitRequests)+h.Get(HeaderLimitTokens) == "" {
			s.win.headers(start, st.limits, h)
		}
		e.write(w)
		if s.log.Enabled(r.Context(), slog.LevelDebug) {
			s.log.Debug("chat completion refused", "status", e.status, "reason", e.reason, "code", e.code)
		}
	}

	if s.apiKey != "" {
		if e := s.gate(r); e != nil && e.status == http.StatusUnauthorized {
			s.stats.invalid.Add(1)
			reject(e)
			return
		}
	}
	bp, e := s.readBody(w, r)
	defer s.bufs.Put(bp)
	var req chatRequest
	if e == nil {
		e = decodeChatRequest(*bp, &req)
	}
	if e == nil && s.models != nil && !s.models[req.Model] {
		e = modelNotFound(req.Model)
	}
	if e == nil {
		e = s.openAITier(req.Model, req.ServiceTier)
	}
	if e != nil {
		s.stats.invalid.Add(1)
		reject(e)
		return
	}

	if e := s.admitOpenAI(st, req.Model); e != nil {
		reject(e)
		return
	}
	defer s.stats.inFlight.Add(-1)

	tp := s.tokens.Get().(*[]string)
	defer s.tokens.Put(tp)
	c := planCompletion(s.seed, s.completionTokens, &req, *tp)
	*tp = c.tokens[:0]
	prompt := promptTokens(&req)
	var seq uint64
	if st.limits.any() {
		var e *apiError
		if seq, e = s.win.admit(start, st.limits, prompt+len(c.tokens), req.Model, h); e != nil {
			s.stats.throttled.Add(1)
			reject(e)
			return
		}
	}

	// The prompt cache is read and written once the request is admitted,
	// as a model server reads and fills it while it processes the prompt.
	cached, _ := s.cache.use(start, openAIPrefixes(&req, prompt))
	g := generation{s: s, st: st, req: &req, c: c, prompt: prompt, cached: cached, start: start, id: uint64(newHasher(s.seed).uint64(uint64(id)))}
	var produced int
	var end outcome
	switch {
	case req.rich() && req.Stream:
		produced, end = g.streamRich(r.Context(), w)
	case req.rich():
		produced, end = g.respondRich(r.Context(), w)
	case req.Stream:
		produced, end = g.stream(r.Context(), w)
	default:
		produced, end = g.respond(r.Context(), w)
	}
	if st.limits.any() && produced != len(c.tokens) {
		s.win.settle(seq, prompt+produced)
	}
	s.stats.promptTokens.Add(int64(prompt))
	s.stats.completionTokens.Add(int64(produced))
	switch end {
	case completed:
		s.stats.served.Add(1)
	case canceled:
		s.stats.canceled.Add(1)
	case aborted:
		s.stats.failed.Add(1)
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("chat completion served", "model", req.Model, "stream", req.Stream, "outcome", end.String(),
			"prompt_tokens", prompt, "completion_tokens", produced, "finish_reason", string(c.finish),
			"duration", s.clock.Now().Sub(start))
	}
	if end == aborted {
		// net/http closes the connection without a response or, mid-stream,
		// without the terminating chunk.
		panic(http.ErrAbortHandler)
	}
}

// admitOpenAI refuses a request to an OpenAI endpoint that a model server
// throttles (chat completions, embeddings) during an outage, a throttle,
// by an injected failure (FailRate) or over the concurrency limit, and
// counts the refusal. When it admits the request (nil), the caller holds
// one in-flight slot and releases it with s.stats.inFlight.Add(-1). The
// RPM and TPM windows are the caller's: they charge what the request
// costs.
func (s *Server) admitOpenAI(st *settings, model string) *apiError {
	switch {
	case st.down:
		s.stats.failed.Add(1)
		return errDown
	case st.throttle > 0:
		s.stats.throttled.Add(1)
		return &apiError{status: http.StatusTooManyRequests, typ: "requests", code: "rate_limit_exceeded",
			reason: ReasonManual, retryAfter: st.throttle,
			message: "Rate limit reached for " + model + " (throttled by the operator). Please try again in " + formatReset(st.throttle) + "."}
	}
	if st.failRate > 0 {
		n := s.arrivals.Add(1)
		r := rng{state: uint64(newHasher(s.seed).uint64(n))}
		if r.float64() < st.failRate {
			if st.failStatus == http.StatusTooManyRequests {
				s.stats.throttled.Add(1)
			} else {
				s.stats.failed.Add(1)
			}
			return failure(st.failStatus, time.Second)
		}
	}
	inFlight := s.stats.inFlight.Add(1)
	if st.maxConcurrency > 0 && inFlight > int64(st.maxConcurrency) {
		s.stats.inFlight.Add(-1)
		s.stats.throttled.Add(1)
		return &apiError{status: http.StatusTooManyRequests, typ: "requests", code: "rate_limit_exceeded",
			reason: ReasonConcurrency, retryAfter: time.Second,
			message: "Too many concurrent requests for " + model + ": Limit " + strconv.Itoa(st.maxConcurrency) + ". Please try again in 1s."}
	}
	return nil
}

// outcome is how an admitted completion ended.
type outcome uint8

const (
	completed outcome = iota // the client got the whole answer
	canceled                 // the client went away or a write failed
	aborted                  // AbortAfterTokens cut it; the connection must be aborted
)

func (o outcome) String() string {
	switch o {
	case completed:
		return "completed"
	case canceled:
		return "canceled"
	}
	return "aborted"
}

// abortAt returns the number of tokens after which the completion is cut, or
// -1 if it is not.
func (g *generation) abortAt() int {
	if n := g.st.abortAfter; n > 0 && n < len(g.c.tokens) {
		return n
	}
	return -1
}

// generation is one admitted chat completion being answered.
type generation struct {
	s      *Server
	st     *settings
	req    *chatRequest
	c      completion
	prompt int
	// cached is the prompt's cached prefix in tokens (OpenAI's
	// prompt_tokens_details.cached_tokens).
	cached int
	start  time.Time
	id     uint64
}

// paced reports whether anything waits: TTFT or a tokens-per-second rate.
func (g *generation) paced() bool { return g.st.ttft > 0 || g.st.tps > 0 }

// due returns when content delta i may be sent: TTFT after the start, then
// one token every 1/tps. Deadlines are absolute so that a slow writer
// catches up instead of drifting.
func (g *generation) due(i int) time.Time {
	d := g.st.ttft
	if g.st.tps > 0 {
		d += time.Duration(float64(i) * float64(time.Second) / g.st.tps)
	}
	return g.start.Add(d)
}

// waitUntil blocks until t on the server's clock or until ctx ends.
func (g *generation) waitUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(g.s.clock.Now())
	if d <= 0 {
		return ctx.Err()
	}
	timer, c := g.s.clock.NewTimer(d)
	select {
	case <-c:
		return nil
	case <-ctx.Done():
		timer.Stop()
		return ctx.Err()
	}
}

// respond writes the non-streaming answer after the whole completion's
// simulated generation time. It returns the completion tokens produced (none
// if the client left before the answer was ready) and how it ended.
func (g *generation) respond(ctx context.Context, w http.ResponseWriter) (int, outcome) {
	n := len(g.c.tokens)
	if cut := g.abortAt(); cut > 0 {
		if g.paced() && g.waitUntil(ctx, g.due(cut-1)) != nil {
			return 0, canceled
		}
		return cut, aborted
	}
	if g.paced() {
		if err := g.waitUntil(ctx, g.due(max(n-1, 0))); err != nil {
			return 0, canceled
		}
	}
	bp := g.s.bufs.Get().(*[]byte)
	defer g.s.bufs.Put(bp)
	b := g.appendHead((*bp)[:0], "chat.completion")
	b = append(b, `"choices":[{"index":0,"message":{"role":"assistant","content":"`...)
	for _, t := range g.c.tokens {
		b = jsonesc.AppendEscaped(b, t)
	}
	b = append(b, `","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"`...)
	b = append(b, g.c.finish...)
	b = append(b, `"}],`...)
	b = g.appendUsage(b, n)
	b = append(b, ",\"system_fingerprint\":\"fp_mockllm\"}\n"...)
	*bp = b
	h := w.Header()
	h["Content-Type"] = contentTypeJSON
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	if _, err := w.Write(b); err != nil {
		return n, canceled
	}
	return n, completed
}

var (
	contentTypeJSON = []string{"application/json"}
	contentTypeSSE  = []string{"text/event-stream; charset=utf-8"}
	noCache         = []string{"no-cache"}
)

// stream writes the answer as server-sent events: headers at once, then at
// TTFT a chunk with the role, one chunk per token paced by tokens per second,
// a chunk with the finish reason, a usage chunk if asked, and [DONE]. Every
// event is flushed. It returns the content deltas written and how the stream
// ended; it stops as soon as ctx ends or a write fails.
func (g *generation) stream(ctx context.Context, w http.ResponseWriter) (int, outcome) {
	h := w.Header()
	h["Content-Type"] = contentTypeSSE
	h["Cache-Control"] = noCache
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher == nil {
		rc := http.NewResponseController(w)
		flusher = flushFunc(func() { rc.Flush() })
	}
	flusher.Flush()

	bp := g.s.bufs.Get().(*[]byte)
	defer g.s.bufs.Put(bp)
	// Every chunk starts with the same id, object, created and model.
	head := g.appendHead(append((*bp)[:0], "data: "...), "chat.completion.chunk")
	head = append(head, `"system_fingerprint":"fp_mockllm",`...)
	*bp = head
	headLen := len(head)
	usageNull := g.req.includeUsage()
	send := func(b []byte) bool {
		if usageNull {
			b = append(b, `,"usage":null`...)
		}
		b = append(b, "}\n\n"...)
		*bp = b
		if _, err := w.Write(b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}

	paced, cut := g.paced(), g.abortAt()
	if paced && g.waitUntil(ctx, g.due(0)) != nil {
		return 0, canceled
	}
	b := append((*bp)[:headLen], `"choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}]`...)
	if !send(b) {
		return 0, canceled
	}
	for i, t := range g.c.tokens {
		if i == cut {
			return i, aborted
		}
		if paced {
			if g.waitUntil(ctx, g.due(i)) != nil {
				return i, canceled
			}
		} else if ctx.Err() != nil {
			return i, canceled
		}
		b := append((*bp)[:headLen], `"choices":[{"index":0,"delta":{"content":"`...)
		b = jsonesc.AppendEscaped(b, t)
		b = append(b, `"},"logprobs":null,"finish_reason":null}]`...)
		if !send(b) {
			return i, canceled
		}
	}
	n := len(g.c.tokens)
	b = append((*bp)[:headLen], `"choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"`...)
	b = append(b, g.c.finish...)
	b = append(b, `"}]`...)
	if !send(b) {
		return n, canceled
	}
	if usageNull {
		usageNull = false // the usage chunk carries the usage instead
		b = append((*bp)[:headLen], `"choices":[],`...)
		b = g.appendUsage(b, n)
		if !send(b) {
			return n, canceled
		}
	}
	b = append((*bp)[:0], "data: [DONE]\n\n"...)
	*bp = b
	if _, err := w.Write(b); err != nil {
		return n, canceled
	}
	flusher.Flush()
	return n, completed
}

type flushFunc func()

func (f flushFunc) Flush() { f() }

// appendHead appends `{"id":…,"object":…,"created":…,"model":…,`.
func (g *generation) appendHead(b []byte, object string) []byte {
	b = append(b, `{"id":"chatcmpl-mock`...)
	b = strconv.AppendUint(b, g.id, 16)
	b = append(b, `","object":"`...)
	b = append(b, object...)
	b = append(b, `","created":`...)
	b = strconv.AppendInt(b, g.start.Unix(), 10)
	b = append(b, `,"model":"`...)
	b = jsonesc.AppendEscaped(b, g.req.Model)
	return append(b, `",`...)
}

// appendUsage appends `"usage":{…}` for n completion tokens.
func (g *generation) appendUsage(b []byte, n int) []byte {
	b = append(b, `"usage":{"prompt_tokens":`...)
	b = strconv.AppendInt(b, int64(g.prompt), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(g.prompt+n), 10)
	if c := g.cached; c > 0 {
		b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
		b = strconv.AppendInt(b, int64(c), 10)
		b = append(b, '}')
	}
	return append(b, '}')
}
