package backend

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meridian-gateway/meridian/internal/bufgrow"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/detach"
	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// OpenAIConfig configures an OpenAI-compatible upstream.
type OpenAIConfig struct {
	// BaseURL ends in /v1, e.g. "http://127.0.0.1:8000/v1".
	BaseURL string
	// Model is the upstream model name sent in every request.
	Model string
	// APIKey, if set, is sent as "Authorization: Bearer".
	APIKey string
	// ConnectTimeout bounds connection set-up. If zero, 5s.
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the response headers, from the
	// moment the request is written, on Clock, and, for streams, the first
	// event. A request past it fails with a retryable KindTimeout. If
	// zero, 60s.
	FirstByteTimeout time.Duration
	// StreamIdleTimeout bounds the silence between a stream's response
	// headers and its first event, and between two events. A stall before
	// the first event fails Stream with a retryable time-out (the gateway
	// fails over); a stall later ends the stream with a time-out error. If
	// zero, DefaultStreamIdleTimeout.
	StreamIdleTimeout time.Duration
	// ServiceTiers are the tiers besides default the upstream model offers
	// (topology service_tiers): only these are sent as service_tier
	// (withOpenAITier).
	ServiceTiers []string
	// Transport overrides the pooled transport (tests). The first-byte
	// time-out is armed when the transport reports the request written
	// (httptrace's WroteRequest, as net/http's transports do); one that
	// never reports it is not bounded by FirstByteTimeout.
	Transport http.RoundTripper
	// Clock times requests and is the base of a Retry-After date. If nil,
	// clock.Wall.
	Clock clock.Clock
}

// OpenAI is a Backend for an OpenAI-compatible chat completions API.
type OpenAI struct {
	cfg    OpenAIConfig
	client *http.Client
	// streams sends stream requests, over streamTransport: a stream holds
	// its connection, and the connection's buffers, to its end.
	streams         *http.Client
	transport       *http.Transport
	streamTransport *http.Transport
	url             string
	// drains owns the reads of ended streams' bodies to their ends
	// (streamBody.drain), which outlive the streams' Close.
	drains detach.Group
}

// streamConnBuffer is the read and the write buffer of a stream's upstream
// HTTP/1.1 connection (net/http's default is 4 KiB each): the write buffer
// serves only the request, and the reader of the stream has a buffer of its
// own (sseReadBuffer) on top of the read buffer. A thousand open streams
// hold 6 MiB less. A stream's request larger than it leaves in two writes
// instead of one, once per stream. A burst of events (hundreds written at
// once) is read 1 KiB per system call: a 4 KiB read buffer made such a
// burst about a fifth cheaper again, but costs 3 MiB more per thousand
// streams, which the memory target at 1,000 forwarded streams has no room
// for (docs/performance.md, "Bursts of events"). An HTTP/2 upstream ignores
// both sizes (its streams share one connection) and gets one connection per
// transport, so two in all.
const streamConnBuffer = 1 << 10

var _ Backend = (*OpenAI)(nil)

// NewOpenAI returns an adapter with its own pooled transport.
func NewOpenAI(cfg OpenAIConfig) *OpenAI {
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.FirstByteTimeout == 0 {
		cfg.FirstByteTimeout = 60 * time.Second
	}
	if cfg.StreamIdleTimeout == 0 {
		cfg.StreamIdleTimeout = DefaultStreamIdleTimeout
	}
	cfg.Clock = clock.Or(cfg.Clock)
	o := &OpenAI{cfg: cfg, url: strings.TrimSuffix(cfg.BaseURL, "/") + "/chat/completions"}
	rt, srt := cfg.Transport, cfg.Transport
	if rt == nil {
		o.transport = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 512,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: cfg.ConnectTimeout,
			// No ResponseHeaderTimeout: the first-byte time-out runs on
			// cfg.Clock (doWithin).
		}
		o.streamTransport = o.transport.Clone()
		o.streamTransport.ReadBufferSize, o.streamTransport.WriteBufferSize = streamConnBuffer, streamConnBuffer
		rt, srt = o.transport, o.streamTransport
	}
	o.client, o.streams = &http.Client{Transport: rt}, &http.Client{Transport: srt}
	return o
}

// Close releases idle connections. It first cuts short the reads of ended
// streams' bodies still waiting for their ends (streamBody.drain): they
// only keep connections for reuse, which a closed backend will not reuse.
// It returns once they have let their requests go.
func (o *OpenAI) Close() error {
	o.drains.Close()
	if o.transport != nil {
		o.transport.CloseIdleConnections()
		o.streamTransport.CloseIdleConnections()
	}
	return nil
}

// CloseIdleConnections closes the backend's idle connections to its
// upstream; the backend stays usable (a new request dials).
func (o *OpenAI) CloseIdleConnections() {
	if o.transport != nil {
		o.transport.CloseIdleConnections()
		o.streamTransport.CloseIdleConnections()
	}
}

type oaMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type oaStreamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type oaRequest struct {
	Model         string           `json:"model"`
	Messages      []oaMessage      `json:"messages"`
	MaxTokens     int              `json:"max_tokens,omitempty"`
	Temperature   *float64         `json:"temperature,omitempty"`
	TopP          *float64         `json:"top_p,omitempty"`
	Stop          []string         `json:"stop,omitempty"`
	Seed          *int64           `json:"seed,omitempty"`
	User          string           `json:"user,omitempty"`
	Stream        bool             `json:"stream,omitempty"`
	StreamOptions *oaStreamOptions `json:"stream_options,omitempty"`
	ServiceTier   string           `json:"service_tier,omitempty"`
}

type oaUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	PromptTokensDetails *struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"prompt_tokens_details"`
}

func (u *oaUsage) usage() inference.Usage {
	out := inference.Usage{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
	if u.PromptTokensDetails != nil {
		// OpenAI counts cached tokens inside prompt_tokens; Meridian's
		// usage keeps them apart, as Bedrock does.
		cached := min(max(u.PromptTokensDetails.CachedTokens, 0), max(u.PromptTokens, 0))
		out.InputTokens, out.CacheReadInputTokens = u.PromptTokens-cached, cached
	}
	return out
}

type oaResponse struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *oaUsage `json:"usage"`
}

// body returns the upstream request body: the client's own bytes with the
// model (and, for a stream, stream_options.include_usage) set when it is an
// OpenAI chat body (pass-through), else the canonical request encoded.
func (o *OpenAI) body(req *inference.Request, stream bool) ([]byte, error) {
	if req.Dialect == inference.DialectOpenAIChat && req.Body != nil {
		body := req.Body
		if req.Features.Has(inference.FeatureReasoning) {
			// Claude's reasoning that a Responses request's Chat body
			// carries for Converse and Anthropic, which restore it on
			// this same condition (reasoning_effort set and not none;
			// without it, "none" included, a reasoning_content is the
			// client's own and passes as every member does): Chat
			// Completions takes none. A carried value that does not
			// decode, and an empty reasoning_effort, are refused by name
			// as the translations refuse them (the client's mistake,
			// answered at once), not sent on.
			if err := translate.EmptyEffort(body); err != nil {
				return nil, dialect.Refusal(err)
			}
			stripped, err := translate.StripCarriedReasoning(body)
			if err != nil {
				return nil, dialect.Refusal(err)
			}
			body = stripped
		}
		return withOpenAITier(PassThroughOpenAI(body, o.cfg.Model, stream), req, o.cfg.ServiceTiers), nil
	}
	if req.Body != nil {
		body, err := dialect.Request(req, translate.OpenAI, o.cfg.Model, stream, translate.Options{})
		if err != nil {
			return nil, err
		}
		body = translatedTier(body, "service_tier", req, o.cfg.ServiceTiers)
		return withOpenAITier(PassThroughOpenAI(body, o.cfg.Model, stream), req, o.cfg.ServiceTiers), nil
	}
	c, err := req.Canonical(inference.DialectOpenAIChat)
	if err != nil {
		return nil, err
	}
	r := oaRequest{Model: o.cfg.Model, MaxTokens: c.MaxTokens, Temperature: c.Temperature, TopP: c.TopP,
		Stop: c.Stop, Seed: c.Seed, User: c.User, Stream: stream, ServiceTier: upstreamTier(req, o.cfg.ServiceTiers)}
	if stream {
		r.StreamOptions = &oaStreamOptions{IncludeUsage: true}
	}
	r.Messages = make([]oaMessage, len(c.Messages))
	for i, m := range c.Messages {
		r.Messages[i] = oaMessage{Role: string(m.Role), Content: m.Text()}
	}
	return json.Marshal(r)
}

// PassThroughOpenAI returns body with its model set to model and, for a
// stream, stream_options.include_usage set to true (Meridian settles quota
// with the final usage); every other byte is kept as the client sent it.
func PassThroughOpenAI(body []byte, model string, stream bool) []byte {
	out := inference.AppendSetString(make([]byte, 0, len(body)+len(model)+48), body, "model", model)
	if !stream {
		return out
	}
	so := inference.Field(out, "stream_options")
	// The body with stream_options set is made in one buffer of its final
	// size or more (grown from nil, it took four allocations).
	if so == nil || bytes.Equal(bytes.TrimSpace(so), []byte("null")) {
		return inference.AppendSetField(make([]byte, 0, len(out)+len(includeUsage)+len(`"stream_options":,`)), out, "stream_options", includeUsage)
	}
	if v := inference.Field(so, "include_usage"); bytes.Equal(v, []byte("true")) {
		return out
	}
	v := inference.AppendSetField(make([]byte, 0, len(so)+len(`"include_usage":true,`)), so, "include_usage", []byte("true"))
	return inference.AppendSetField(make([]byte, 0, len(out)+len(v)), out, "stream_options", v)
}

// withOpenAITier returns body with service_tier set to the tier the
// gateway admitted req in, when that is priority or flex, the deployment
// declares it (declared, topology service_tiers: OpenAI offers flex and
// priority for some models only and refuses them for others with a 400)
// and the body names no service_tier of its own (null is none): a caller that asked by the
// X-Amzn-Bedrock-Service-Tier header alone (docs/quotas.md, "Service
// tiers") is served in the tier Meridian admitted and reports, as a bedrock
// deployment is (upstreamTier). A body's own service_tier agrees with the
// header or was refused (internal/gateway/tier.go), and is kept as sent
// (the caller's own ask in the upstream's own API, never dropped).
func withOpenAITier(body []byte, req *inference.Request, declared []string) []byte {
	t := upstreamTier(req, declared)
	if t == "" || inference.FieldUnlessNull(body, "service_tier") != nil {
		return body
	}
	return inference.AppendSetString(make([]byte, 0, len(body)+len(`"service_tier":"priority",`)), body, "service_tier", t)
}

// includeUsage is the stream_options a passed-through stream's body gets
// when it has none.
var includeUsage = []byte(`{"include_usage":true}`)

func (o *OpenAI) do(ctx context.Context, req *inference.Request, stream bool) (*http.Response, error) {
	body, err := o.body(req, stream)
	if err != nil {
		if e, ok := err.(*inference.Error); ok {
			return nil, e
		}
		return nil, &inference.Error{Kind: inference.KindInvalidRequest, Message: "request cannot be encoded", Err: err}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, o.url, bytes.NewReader(body))
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
	}
	hr.Header.Set("Content-Type", "application/json")
	if stream {
		hr.Header.Set("Accept", "text/event-stream")
	} else {
		hr.Header.Set("Accept", "application/json")
	}
	if o.cfg.APIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+o.cfg.APIKey)
	}
	client := o.client
	if stream {
		client = o.streams
	}
	resp, err := doWithin(client, hr, o.cfg.Clock, o.cfg.FirstByteTimeout)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, StatusError(resp, o.cfg.Clock)
	}
	return resp, nil
}

// Complete implements Backend.
func (o *OpenAI) Complete(ctx context.Context, req *inference.Request) (*inference.Response, error) {
	if req.Dialect == inference.DialectOpenAIEmbeddings {
		return o.embed(ctx, req)
	}
	start := o.cfg.Clock.Now()
	resp, err := o.do(ctx, req, false)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	// The whole body is read (bounded), so that net/http pools the
	// connection: a decoder that stopped at the value's end left the
	// newline and the body's end behind.
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, readError(ctx, "read upstream response", err)
	}
	if len(raw) > maxResponseBytes {
		return nil, &inference.Error{Kind: inference.KindUpstream, Message: "the model's answer is larger than 64 MiB"}
	}
	if req.Body != nil {
		// In the request's dialect or translated from it: the answer is
		// OpenAI's, as received; the front end translates it back.
		return passThroughResponse(raw, o.cfg.Clock.Now().Sub(start))
	}
	var r oaResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, &inference.Error{Kind: inference.KindUpstream, Message: "the model sent a malformed answer", Err: fmt.Errorf("decode upstream response: %w", err)}
	}
	if len(r.Choices) == 0 {
		return nil, &inference.Error{Kind: inference.KindUpstream, Message: "upstream returned no choices"}
	}
	out := &inference.Response{ID: r.ID, Model: r.Model, Latency: o.cfg.Clock.Now().Sub(start),
		Message: inference.TextMessage(inference.RoleAssistant, r.Choices[0].Message.Content)}
	if fr := r.Choices[0].FinishReason; fr != nil {
		out.StopReason = StopReasonFromOpenAI(*fr)
	} else {
		out.StopReason = inference.StopEndTurn
	}
	if r.Usage != nil {
		out.Usage = inference.Usage{InputTokens: r.Usage.PromptTokens, OutputTokens: r.Usage.CompletionTokens}
	}
	return out, nil
}

// maxResponseBytes bounds a non-streaming answer read for pass-through.
const maxResponseBytes = 64 << 20

// passThroughResponse wraps an OpenAI chat completion as received, reading
// only its id, model and usage.
func passThroughResponse(raw []byte, latency time.Duration) (*inference.Response, error) {
	// One pass over the top level: choices are skipped, never decoded
	// (the body goes to the caller as sent).
	var id, model, usage []byte
	ok := inference.Members(raw, func(k, v []byte) {
		switch string(k) {
		case "id":
			id = v
		case "model":
			model = v
		case "usage":
			usage = v
		}
	})
	var head struct {
		ID    string
		Model string
		Usage *oaUsage
	}
	var err error
	switch {
	case !ok:
		err = errors.New("not a well-formed JSON object")
	case !scanHead(id, model, usage, &head.ID, &head.Model, &head.Usage):
		// What the scanner does not take as plain, encoding/json decodes
		// (and words the fault of).
		head.ID, head.Model, head.Usage = "", "", nil
		for _, f := range []struct {
			raw []byte
			dst any
		}{{id, &head.ID}, {model, &head.Model}, {usage, &head.Usage}} {
			if err == nil && f.raw != nil {
				err = json.Unmarshal(f.raw, f.dst)
			}
		}
	}
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindUpstream, Message: "the model sent a malformed answer", Err: err}
	}
	out := &inference.Response{ID: head.ID, Model: head.Model, Dialect: inference.DialectOpenAIChat, Body: raw, Latency: latency,
		StopReason: inference.StopEndTurn}
	if head.Usage != nil {
		out.Usage = head.Usage.usage()
	}
	return out, nil
}

var (
	usageMembers   = []string{"prompt_tokens", "completion_tokens", "prompt_tokens_details"}
	detailsMembers = []string{"cached_tokens"}
)

// scanHead reads a chat completion's id, model and usage as encoding/json
// would, without its reflection, and reports whether it could (see
// inference.ScanObject); a nil value leaves its destination.
func scanHead(id, model, usage []byte, dstID, dstModel *string, dstUsage **oaUsage) bool {
	for _, v := range [...][]byte{id, model, usage} {
		if v != nil && !json.Valid(v) {
			return false
		}
	}
	if (id != nil && !inference.ScanString(id, dstID)) || (model != nil && !inference.ScanString(model, dstModel)) {
		return false
	}
	if usage == nil {
		return true
	}
	var u oaUsage
	null, ok := inference.ScanObject(usage, usageMembers, func(i int, v []byte) bool {
		switch i {
		case 0:
			return inference.ScanInt(v, &u.PromptTokens)
		case 1:
			return inference.ScanInt(v, &u.CompletionTokens)
		}
		var cached int
		null, ok := inference.ScanObject(v, detailsMembers, func(_ int, v []byte) bool { return inference.ScanInt(v, &cached) })
		if ok && !null {
			u.PromptTokensDetails = &struct {
				CachedTokens int `json:"cached_tokens"`
			}{cached}
		}
		return ok
	})
	if ok && !null {
		*dstUsage = &u
	}
	return ok
}

// sseReadBuffer is a stream's read buffer: an event is small, and every
// open stream holds one; a longer line is assembled (readLine). A stream
// whose reads fill it (the upstream sends faster than it is relayed) moves
// to a reader of sseBurstBuffer (see readEvent), so that a burst is relayed
// in a few large reads and writes; a paced stream of events under 1 KiB,
// whose reads bring one event each, keeps the small one (an event that
// fills a read by itself moves it too).
const (
	sseReadBuffer  = 1 << 10
	sseBurstBuffer = 4 << 10
)

// Stream implements Backend. It returns after the upstream's first event.
func (o *OpenAI) Stream(ctx context.Context, req *inference.Request) (inference.Stream, error) {
	// The upstream call ends with the caller's context until the stream
	// has ended: Close then lets go of it, so that the caller's
	// return, which ends its context (an HTTP handler's does), cannot cut
	// the drain short and cost the connection (see streamBody.drain).
	ctx, cancel, letGo := detach.From(ctx)
	resp, err := o.do(ctx, req, true)
	if err != nil {
		letGo()
		cancel()
		return nil, err
	}
	s := &sseStream{streamBody: streamBody{ctx: ctx, cancel: cancel, detach: letGo, drains: &o.drains, body: resp.Body}, raw: req.Body != nil}
	// The reader is part of the stream, not an allocation of its own; it
	// reads through s.src, which tells close whether the body has ended.
	s.src.r = resp.Body
	s.r = s.readers.Start(&s.src, sseReadBuffer)
	s.timer = o.cfg.Clock.AfterFuncTimer(time.Hour, func() { s.timedOut.Store(true); cancel() })
	s.timer.Stop()
	// Wait for the first event within the first-byte budget and the idle
	// time-out (the headers were the last sign of life), so that a silent
	// upstream is a failover-able time-out rather than a hung stream.
	s.idle = min(o.cfg.FirstByteTimeout, o.cfg.StreamIdleTimeout)
	_, err = s.Recv()
	s.idle = o.cfg.StreamIdleTimeout
	if err != nil {
		s.Close()
		if errors.Is(err, io.EOF) {
			return nil, &inference.Error{Kind: inference.KindUpstream, Message: "upstream stream ended before any event"}
		}
		if s.timedOut.Load() {
			return nil, &inference.Error{Kind: inference.KindTimeout, Message: "the model did not start answering in time", Err: err}
		}
		return nil, err
	}
	s.head-- // put the first event back, in its place, for the caller
	return s, nil
}

// sseStream reads an OpenAI chat.completion.chunk SSE stream.
//
// Its streamBody's ended is set once Recv has reported the stream's end
// (io.EOF after [DONE], or after the body's end) or the upstream's error
// event, after which an upstream ends the body (at most after [DONE]).
type sseStream struct {
	streamBody
	// full is set when a read filled r's buffer: r grows to sseBurstBuffer
	// once it is empty (readEvent).
	full bool
	// readers holds the readers r points to, part of the stream rather
	// than allocations of their own: a small one first, a larger one once
	// the stream grows (readEvent).
	readers bufgrow.Reader
	// long assembles a line longer than r's buffer.
	long []byte
	// pending[head:] are events read but not yet received; the buffer is
	// reused once drained.
	pending []inference.Event
	head    int
	// chunk is reused for every event after the first, so that a token
	// costs one allocation (its text), not a slice and the repeated id and
	// model strings.
	chunk   streamChunk
	started bool
	stopped bool
	done    bool
	// errorEvent is set by readEvent when the upstream sent an error
	// event, which ends the stream (see readEventWithin).
	errorEvent bool
	// raw is set in pass-through: every event is delivered with its bytes
	// (see readRaw).
	raw bool
	// buffered is set by Ready when the next event's line is buffered
	// whole: the next read cannot wait, and needs no idle timer
	// (readEventWithin).
	buffered bool
}

func (s *sseStream) Recv() (inference.Event, error) {
	for s.head == len(s.pending) {
		s.pending, s.head = s.pending[:0], 0
		if s.done {
			s.ended.Store(true)
			return inference.Event{}, io.EOF
		}
		if err := s.readEventWithin(); err != nil {
			return inference.Event{}, err
		}
	}
	ev := s.pending[s.head]
	s.head++
	return ev, nil
}

const (
	// maxDrain bounds what drain reads after [DONE].
	maxDrain = 64 << 10
	// maxDrainWait bounds how long drain waits for the body's end (and
	// the stream's idle time-out, when shorter): an upstream that holds
	// the body open after [DONE] loses its connection, rather than hold a
	// goroutine and a connection for a whole idle time-out.
	maxDrainWait = 5 * time.Second
)

// Ready implements inference.Readier: an event is pending, the stream has
// ended, or, in pass-through (where every data line is an event, and
// [DONE] its end), the next data line is buffered whole. A decoded stream
// tells only of pending events: a data line there may carry nothing the
// gateway reads, and Recv would read on. Like Recv, it is called by the
// stream's reader only.
func (s *sseStream) Ready() bool {
	if s.head < len(s.pending) || s.done {
		return true
	}
	if !s.raw {
		return false
	}
	buf, _ := s.r.Peek(s.r.Buffered())
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			return false
		}
		line := buf[:i]
		buf = buf[i+1:]
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		if data = bytes.TrimSpace(data); len(data) > 0 {
			s.buffered = true
			return true
		}
	}
}

// streamChunk is the part of a chat.completion.chunk the stream reads.
type streamChunk struct {
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *oaUsage `json:"usage"`
	Error *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"error"`
}

// firstChunk adds what is read from the first chunk only.
type firstChunk struct {
	ID    string `json:"id"`
	Model string `json:"model"`
	streamChunk
}

// readEventWithin reads one event within the idle time-out.
//
// An upstream's error event ends the stream (ended) only once the timer is
// stopped: a Close on another goroutine could otherwise start the drain,
// whose bound is that same timer, and see it stopped under it.
func (s *sseStream) readEventWithin() error {
	// When Ready saw the event's line whole in the buffer, readEvent reads
	// no further: there is nothing to time, and a burst's events do not
	// each arm and stop the timer. It stays stopped.
	timed := !s.buffered
	s.buffered = false
	if timed {
		s.timer.Reset(s.idle)
	}
	err := s.readEvent()
	if timed {
		s.timer.Stop()
	}
	if s.errorEvent {
		s.ended.Store(true)
	}
	if timed && err != nil && s.timedOut.Load() {
		return &inference.Error{Kind: inference.KindTimeout, Message: "the model stopped sending (no event for " + s.idle.String() + ")", Err: err}
	}
	return err
}

// maxSSELine bounds one line of an upstream stream.
const maxSSELine = 4 << 20

// readLine returns the next line of the stream, however long (up to
// maxSSELine): a chunk larger than the read buffer is assembled rather than
// ending the stream. The slice is valid until the next call.
func (s *sseStream) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if !errors.Is(err, bufio.ErrBufferFull) {
		return line, err
	}
	s.long = append(s.long[:0], line...)
	for {
		line, err = s.r.ReadSlice('\n')
		s.long = append(s.long, line...)
		if len(s.long) > maxSSELine {
			return nil, &inference.Error{Kind: inference.KindUpstream, Message: "upstream sent a stream line over 4 MiB"}
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return s.long, err
		}
	}
}

// readEvent reads one SSE event and appends what it means to pending.
//
// It moves the stream to a larger reader once a read has filled the small
// one; what the small one holds is read first. Only events already
// received point into the old buffer, and the caller has handed them on
// before it asks for the next (Recv calls readEvent with none pending).
func (s *sseStream) readEvent() error {
	if s.full && s.r.Size() < sseBurstBuffer {
		// What the small reader still holds is read from its buffer, in
		// place (bufgrow.Reader.Grow): the events received before, whose
		// Raw may point into it, stay as they were.
		if s.src.r == nil {
			s.src.r = s.body // a stream whose reader reads its body directly
		}
		s.r = s.readers.Grow(s.r, &s.src, sseBurstBuffer)
	}
	for {
		fresh := s.r.Buffered() == 0
		line, err := s.readLine()
		if fresh && len(line)+s.r.Buffered() >= s.r.Size() {
			s.full = true
		}
		if err != nil {
			if errors.Is(err, io.EOF) && s.stopped {
				s.done = true
				return nil
			}
			if errors.Is(err, io.EOF) {
				return &inference.Error{Kind: inference.KindUpstream, Message: "upstream stream ended early", Err: io.ErrUnexpectedEOF}
			}
			return readError(s.ctx, "read upstream stream", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		data, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue // comments, event names, blank separators
		}
		data = bytes.TrimSpace(data)
		if s.raw {
			if ok, err := s.readRaw(data); ok || err != nil {
				return err
			}
			continue
		}
		if bytes.Equal(data, []byte("[DONE]")) {
			s.done = true
			if !s.stopped {
				s.stopped = true
				s.pending = append(s.pending, inference.Event{Kind: inference.EventStop, StopReason: inference.StopEndTurn})
			}
			return nil
		}
		// Reset the reused chunk: json.Unmarshal keeps fields and slice
		// elements that the new event does not mention.
		chunk := &s.chunk
		choices := chunk.Choices[:cap(chunk.Choices)]
		clear(choices)
		*chunk = streamChunk{Choices: choices[:0]}
		var first firstChunk
		if s.started {
			err = json.Unmarshal(data, chunk)
		} else {
			err = json.Unmarshal(data, &first)
			*chunk = first.streamChunk
		}
		if err != nil {
			return &inference.Error{Kind: inference.KindUpstream, Message: "upstream sent a malformed stream event", Err: err}
		}
		if chunk.Error != nil {
			s.errorEvent = true
			return &inference.Error{Kind: inference.KindUpstream, Message: "upstream error: " + chunk.Error.Message}
		}
		if !s.started {
			s.started = true
			s.pending = append(s.pending, inference.Event{Kind: inference.EventStart, ID: first.ID, Model: first.Model})
		}
		for _, c := range chunk.Choices {
			if c.Delta.Content != "" {
				s.pending = append(s.pending, inference.Event{Kind: inference.EventDelta, Text: c.Delta.Content})
			}
			if c.FinishReason != nil && !s.stopped {
				s.stopped = true
				s.pending = append(s.pending, inference.Event{Kind: inference.EventStop, StopReason: StopReasonFromOpenAI(*c.FinishReason)})
			}
		}
		if chunk.Usage != nil {
			s.pending = append(s.pending, inference.Event{Kind: inference.EventUsage,
				Usage: &inference.Usage{InputTokens: chunk.Usage.PromptTokens, OutputTokens: chunk.Usage.CompletionTokens}})
		}
		if len(s.pending) > 0 {
			return nil
		}
	}
}

// readRaw appends the event of one data line in pass-through: the line's
// bytes, classified by a look at them (no decode but of the one event that
// carries usage). ok is false for a line that is no event.
func (s *sseStream) readRaw(data []byte) (ok bool, err error) {
	if bytes.Equal(data, []byte("[DONE]")) {
		s.done = true
		return true, nil // the front end writes its own end marker
	}
	if len(data) == 0 {
		return false, nil
	}
	ev := inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat, Raw: data}
	// One pass finds what the questions below ask (asked one at a time,
	// they scanned every chunk four times).
	c := inference.ScanChatChunk(data)
	if c.Error {
		if e := inference.Field(data, "error"); e != nil && !bytes.Equal(e, []byte("null")) {
			var we struct {
				Message string `json:"message"`
			}
			json.Unmarshal(e, &we)
			s.errorEvent = true
			return true, &inference.Error{Kind: inference.KindUpstream, Message: "upstream error: " + truncate(we.Message, maxUpstreamMessage)}
		}
	}
	if u := c.Usage; u != nil {
		var ou oaUsage
		if err := json.Unmarshal(u, &ou); err != nil {
			return true, &inference.Error{Kind: inference.KindUpstream, Message: "upstream sent a malformed stream event", Err: err}
		}
		usage := ou.usage()
		ev.Kind, ev.Usage = inference.EventUsage, &usage
	} else if fr := c.FinishReason; fr != nil {
		ev.Kind, ev.StopReason = inference.EventStop, StopReasonFromOpenAI(string(fr))
		s.stopped = true
	} else if !s.started && len(c.Content) == 0 {
		ev.Kind = inference.EventStart
	}
	s.started = true
	s.pending = append(s.pending, ev)
	return true, nil
}

// Close releases the stream; after the stream's end ([DONE], or the
// upstream's error event) it first reads the rest of the body, in the
// background (streamBody.drain).
func (s *sseStream) Close() error {
	s.close()
	return nil
}

// StopReasonFromOpenAI maps an OpenAI finish_reason.
func StopReasonFromOpenAI(fr string) inference.StopReason {
	switch fr {
	case "length":
		return inference.StopMaxTokens
	case "content_filter":
		return inference.StopContentFiltered
	case "stop_sequence":
		return inference.StopSequence
	}
	return inference.StopEndTurn
}

const (
	// maxErrorCause bounds the part of an error answer kept in the
	// error's internal cause.
	maxErrorCause = 4 << 10
	// maxErrorBody bounds what is read of an error answer: read to its
	// end, the connection goes back to the pool; a longer answer is closed
	// after it, and costs its connection.
	maxErrorBody = 64 << 10
	// errorBodyWait bounds how long an error answer's body is waited for
	// after its headers: an upstream that holds it open must not hold the
	// request (and its failover) longer.
	errorBodyWait = time.Second
)

// StatusError maps a non-200 upstream response to a typed error, keeping
// Retry-After (a date in it is read relative to clk's time when the
// response arrived). The body is read for the model's message and the
// internal cause (its first 4 KiB): to its end when it ends within 64 KiB
// and errorBodyWait on clk, so that net/http pools the connection (a
// longer or slower body is cut off there, which costs its connection, and
// the error is made of what arrived).
func StatusError(resp *http.Response, clk clock.Clock) *inference.Error {
	now := clk.Now()
	body := readErrorBody(resp.Body, clk)
	cause := fmt.Errorf("upstream status %d: %s", resp.StatusCode, bytes.TrimSpace(body[:min(len(body), maxErrorCause)]))
	e := &inference.Error{UpstreamStatus: resp.StatusCode, RetryAfter: RetryAfter(resp.Header, now), Err: cause}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		e.Kind, e.Message = inference.KindThrottled, "the model is busy; retry later"
	case resp.StatusCode == http.StatusServiceUnavailable:
		e.Kind, e.Message = inference.KindUnavailable, "the model is unavailable"
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusGatewayTimeout:
		e.Kind, e.Message = inference.KindTimeout, "the model did not answer in time"
	case resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnprocessableEntity:
		// The request itself is wrong: no other destination will do better.
		e.Kind, e.Message = inference.KindInvalidRequest, "the model rejected the request: "+upstreamMessage(body)
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		e.Kind, e.Message = inference.KindPayloadTooLarge, "the request is too large for the model"
	default:
		e.Kind, e.Message = inference.KindUpstream, fmt.Sprintf("the model failed (upstream status %d)", resp.StatusCode)
	}
	return e
}

// readErrorBody reads an error answer's body to its end, at most
// maxErrorBody bytes (and one more, which tells a longer body), waiting at
// most errorBodyWait on clk: then it closes the body, which ends the read.
func readErrorBody(body io.ReadCloser, clk clock.Clock) []byte {
	stop := clk.AfterFunc(errorBodyWait, func() { body.Close() })
	defer stop()
	b, _ := io.ReadAll(io.LimitReader(body, maxErrorBody+1))
	return b
}

// upstreamMessage extracts an OpenAI-style error message, bounded in size.
func upstreamMessage(body []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
		return truncate(e.Error.Message, maxUpstreamMessage)
	}
	var b struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &b) == nil && b.Message != "" {
		return truncate(b.Message, maxUpstreamMessage) // Bedrock's shape
	}
	return "invalid request"
}

// truncate bounds an upstream's text for a client message without
// cutting a word: s whole when it fits in n bytes (an upstream's message
// is passed maxUpstreamMessage, which Bedrock's validation messages fit
// in), else cut back to the last sentence end, or failing that the last space,
// in the bound, with an ellipsis. A word longer than the bound is cut at
// a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	head := s[:cut]
	if i := strings.LastIndex(head, ". "); i >= cut/2 {
		return head[:i+1] + " …"
	}
	if i := strings.LastIndexAny(head, " \n\t"); i > 0 {
		return strings.TrimRight(head[:i], " ,;:") + " …"
	}
	return head + "…"
}

// maxUpstreamMessage bounds an upstream's message in a client error.
const maxUpstreamMessage = 1024

// RetryAfter reads Retry-After (seconds or an HTTP date) or the
// retry-after-ms extension; zero when absent.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func transportError(ctx context.Context, err error) *inference.Error {
	if inference.CutByShutdown(ctx) {
		return inference.ShutdownError(err)
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
		return &inference.Error{Kind: inference.KindUnavailable, Message: "request cancelled", Err: err}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &inference.Error{Kind: inference.KindTimeout, Message: "the model did not answer in time", Err: err}
	}
	return &inference.Error{Kind: inference.KindUnavailable, Message: "the model is unreachable", Err: err}
}

func readError(ctx context.Context, op string, err error) *inference.Error {
	if inference.CutByShutdown(ctx) {
		return inference.ShutdownError(fmt.Errorf("%s: %w", op, err))
	}
	if ctx.Err() != nil {
		return &inference.Error{Kind: inference.KindTimeout, Message: "the model did not answer in time", Err: fmt.Errorf("%s: %w", op, err)}
	}
	return &inference.Error{Kind: inference.KindUpstream, Message: "the model's answer was cut off", Err: fmt.Errorf("%s: %w", op, err)}
}
