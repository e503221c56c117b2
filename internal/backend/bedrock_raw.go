package backend

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/detach"
	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// This file is the Bedrock adapter's pass-through: a Converse body goes to
// Converse, an InvokeModel body (Anthropic Messages of any
// anthropic_version, or another family's) to InvokeModel, as the client
// sent it, signed with the deployment's credentials; the answer and every
// stream event come back as received, with usage read from the event that
// carries it.

// plan returns the Bedrock operation that serves req, the body to send and
// its dialect: the client's body as is when Bedrock takes it (Converse, an
// InvokeModel body for a model of its family), else the body translated to
// Converse. op is "" for a request built in code (canonical path).
func (b *Bedrock) plan(req *inference.Request, stream bool) (op string, body []byte, d inference.Dialect, err error) {
	if req.Body == nil {
		return "", nil, 0, nil
	}
	converseOp, invokeOp := "converse", "invoke"
	if stream {
		converseOp, invokeOp = "converse-stream", "invoke-with-response-stream"
	}
	switch {
	case req.Dialect == inference.DialectConverse:
		return converseOp, req.Body, req.Dialect, nil
	case req.Dialect == inference.DialectInvoke, req.Dialect == inference.DialectAnthropic && b.takesAnthropic():
		return invokeOp, req.Body, req.Dialect, nil
	}
	opts := translate.Options{Family: b.family}
	if b.takesAnthropic() {
		opts.Family = translate.FamilyClaude
	}
	body, err = dialect.Request(req, translate.Converse, "", stream, opts)
	if err == nil {
		body = translatedTier(body, "serviceTier", req, b.cfg.ServiceTiers)
		body, err = withRequestMetadata(body, req.Metadata)
	}
	return converseOp, body, inference.DialectConverse, err
}

// withRequestMetadata returns body, a Converse body translated from
// another dialect, with requestMetadata set to the caller's request
// metadata when the translation has none: metadata sent beside the body
// (InvokeModel's X-Amzn-Bedrock-Request-Metadata header, for an Anthropic
// body served by a model that takes Converse) is not in the body it was
// translated from. A translation that carried the body's own metadata
// (OpenAI metadata) already holds the same map.
func withRequestMetadata(body []byte, md map[string]string) ([]byte, error) {
	if len(md) == 0 || inference.Field(body, "requestMetadata") != nil {
		return body, nil
	}
	v, err := json.Marshal(md)
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
	}
	return inference.AppendSetField(nil, body, "requestMetadata", v), nil
}

// headerRequestMetadata is InvokeModel's request metadata header: a JSON
// object of strings that Bedrock keeps in its invocation logs (the SDK's
// InvokeModelInput.RequestMetadata). Converse takes the same in its body
// (requestMetadata).
const headerRequestMetadata = "X-Amzn-Bedrock-Request-Metadata"

// invokeRequestMetadata returns the value of headerRequestMetadata for req
// sent to op: the caller's request metadata as a JSON object (its keys
// sorted, as json.Marshal writes a map), for the InvokeModel operations;
// "" when there is none, and for Converse, whose body carries it.
func invokeRequestMetadata(op string, req *inference.Request) (string, error) {
	if len(req.Metadata) == 0 || !strings.HasPrefix(op, "invoke") {
		return "", nil
	}
	v, err := json.Marshal(req.Metadata)
	if err != nil {
		return "", &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
	}
	return string(v), nil
}

// takesAnthropic reports whether the deployment's model takes Anthropic
// Messages bodies on InvokeModel: a Claude model, by the deployment's
// backend.family or else the one Bedrock model-id classifier
// (internal/schema/bedrockmodel: an anthropic provider token, or none, as
// in an application inference profile's ARN), not by a substring
// ("claude" in another provider's id).
func (b *Bedrock) takesAnthropic() bool {
	return b.cfg.AnthropicModel || b.family == translate.FamilyClaude
}

// rawCallWith signs and sends body to the operation op of the
// deployment's model, with the headers a request sends beside its body
// (request metadata, service tier), and returns the 200 response.
func (b *Bedrock) rawCallWith(ctx context.Context, op string, body []byte, hdr upstreamHeaders) (*http.Response, error) {
	base := b.cfg.Endpoint
	if base == "" {
		base = "https://bedrock-runtime." + b.cfg.Region + ".amazonaws.com"
	}
	escaped := url.PathEscape(b.cfg.Model)
	u, err := url.Parse(strings.TrimSuffix(base, "/") + "/model/" + escaped + "/" + op)
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: fmt.Errorf("bedrock endpoint: %w", err)}
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: err}
	}
	hr.Header.Set("Content-Type", "application/json")
	if strings.HasSuffix(op, "stream") {
		hr.Header.Set("Accept", "application/vnd.amazon.eventstream")
		hr.Header.Set("X-Amzn-Bedrock-Accept", "application/json")
	} else {
		hr.Header.Set("Accept", "application/json")
	}
	if hdr.metadata != "" {
		hr.Header.Set(headerRequestMetadata, hdr.metadata)
	}
	if hdr.tier != "" {
		hr.Header.Set(headerServiceTier, hdr.tier)
	}
	creds, err := b.creds.Retrieve(ctx)
	if err != nil {
		return nil, &inference.Error{Kind: inference.KindUnavailable, Message: "the deployment's AWS credentials are unavailable", Err: err}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, hr, hex.EncodeToString(sum[:]), "bedrock", b.cfg.Region, b.cfg.Clock.Now()); err != nil {
		return nil, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: fmt.Errorf("sign bedrock request: %w", err)}
	}
	resp, err := doWithin(b.http, hr, b.cfg.Clock, b.cfg.FirstByteTimeout)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, bedrockStatusError(resp, b.cfg.Clock)
	}
	return resp, nil
}

// bedrockStatusError maps a Bedrock error answer (x-amzn-ErrorType and a
// {"message"} body) to a typed error; the body is read as StatusError
// reads it.
func bedrockStatusError(resp *http.Response, clk clock.Clock) *inference.Error {
	e := StatusError(resp, clk)
	typ, _, _ := strings.Cut(resp.Header.Get("X-Amzn-Errortype"), ":")
	switch typ {
	case "ThrottlingException", "ServiceQuotaExceededException":
		e.Kind, e.Message = inference.KindThrottled, "Amazon Bedrock throttled the request"
	case "ServiceUnavailableException", "ModelNotReadyException":
		e.Kind, e.Message = inference.KindUnavailable, "Amazon Bedrock is unavailable for this model"
	case "ModelTimeoutException":
		e.Kind, e.Message = inference.KindTimeout, "Amazon Bedrock did not answer in time"
	case "AccessDeniedException", "ResourceNotFoundException", "UnrecognizedClientException":
		// The deployment's credentials or model id, not the caller's fault.
		e.Kind, e.Message = inference.KindUpstream, "Amazon Bedrock refused the deployment's request ("+typ+")"
	}
	if e.Kind == inference.KindInvalidRequest {
		e.Message = strings.Replace(e.Message, "the model rejected the request", "Amazon Bedrock rejected the request", 1)
	}
	return e
}

// converseUsage is Converse's TokenUsage.
type converseUsage struct {
	InputTokens           int `json:"inputTokens"`
	OutputTokens          int `json:"outputTokens"`
	CacheReadInputTokens  int `json:"cacheReadInputTokens"`
	CacheWriteInputTokens int `json:"cacheWriteInputTokens"`
}

func (u converseUsage) usage() inference.Usage {
	return inference.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheReadInputTokens: u.CacheReadInputTokens, CacheWriteInputTokens: u.CacheWriteInputTokens}
}

// anthropicUsage is the Anthropic Messages usage.
type anthropicUsage struct {
	InputTokens              int `json:"input_tokens"`
	OutputTokens             int `json:"output_tokens"`
	CacheReadInputTokens     int `json:"cache_read_input_tokens"`
	CacheCreationInputTokens int `json:"cache_creation_input_tokens"`
}

func (u anthropicUsage) usage() inference.Usage {
	return inference.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CacheReadInputTokens: u.CacheReadInputTokens, CacheWriteInputTokens: u.CacheCreationInputTokens}
}

// completeRaw serves a non-streaming pass-through request.
func (b *Bedrock) completeRaw(ctx context.Context, op string, body []byte, dialect inference.Dialect, hdr upstreamHeaders) (*inference.Response, error) {
	start := b.cfg.Clock.Now()
	resp, err := b.rawCallWith(ctx, op, body, hdr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, readError(ctx, "read Bedrock response", err)
	}
	if len(raw) > maxResponseBytes {
		return nil, &inference.Error{Kind: inference.KindUpstream, Message: "the model's answer is larger than 64 MiB"}
	}
	out := &inference.Response{Model: b.cfg.Model, Dialect: dialect, Body: raw, Latency: b.cfg.Clock.Now().Sub(start), StopReason: inference.StopEndTurn}
	switch dialect {
	case inference.DialectConverse:
		var u converseUsage
		if f := inference.Field(raw, "usage"); f != nil && json.Unmarshal(f, &u) == nil {
			out.Usage = u.usage()
		}
	case inference.DialectAnthropic:
		var u anthropicUsage
		if f := inference.Field(raw, "usage"); f != nil && json.Unmarshal(f, &u) == nil {
			out.Usage = u.usage()
		}
	}
	out.ServiceTier = servedTier(op, resp.Header, raw)
	// Bedrock reports the counts of every InvokeModel in headers.
	if n, err := strconv.Atoi(resp.Header.Get("X-Amzn-Bedrock-Input-Token-Count")); err == nil {
		out.Usage.InputTokens = n
	}
	if n, err := strconv.Atoi(resp.Header.Get("X-Amzn-Bedrock-Output-Token-Count")); err == nil {
		out.Usage.OutputTokens = n
	}
	return out, nil
}

// streamRaw serves a streaming pass-through request; it returns after the
// first event.
func (b *Bedrock) streamRaw(ctx context.Context, op string, body []byte, dialect inference.Dialect, hdr upstreamHeaders) (inference.Stream, error) {
	// The call ends with the caller's context until the stream has ended
	// in an exception: Close then lets go of it, so that the caller's
	// return cannot cut the read of the body's end short (see
	// streamBody.drain).
	ctx, cancel, letGo := detach.From(ctx)
	resp, err := b.rawCallWith(ctx, op, body, hdr)
	if err != nil {
		letGo()
		cancel()
		return nil, err
	}
	s := &rawEventStream{streamBody: streamBody{ctx: ctx, cancel: cancel, detach: letGo, drains: &b.drains, body: resp.Body,
		r: newRawEventStreamReader(resp.Body)}, dialect: dialect}
	s.timer = b.cfg.Clock.AfterFuncTimer(time.Hour, func() { s.timedOut.Store(true); cancel() })
	s.timer.Stop()
	s.idle = min(b.cfg.FirstByteTimeout, b.cfg.StreamIdleTimeout)
	first, err := s.Recv()
	s.idle = b.cfg.StreamIdleTimeout
	if err != nil {
		s.Close()
		if errors.Is(err, io.EOF) {
			return nil, &inference.Error{Kind: inference.KindUpstream, Message: "Amazon Bedrock's stream ended before any event"}
		}
		if s.timedOut.Load() {
			return nil, &inference.Error{Kind: inference.KindTimeout, Message: "the model did not start answering in time", Err: err}
		}
		return nil, err
	}
	s.first, s.primed = first, true
	return s, nil
}

// rawReadBuffer is a Bedrock stream's read buffer, on top of the
// transport's own: a message of a stream is a few hundred bytes, and every
// open stream holds one (it was 8 KiB: 8 MiB for a thousand streams). Ready
// sees a message only once it is buffered whole, so a longer one is merely
// not announced early; readFrame reads it into the stream's frame buffer
// all the same.
const rawReadBuffer = 1 << 10

// newRawEventStreamReader returns a Bedrock stream's buffered reader.
func newRawEventStreamReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, rawReadBuffer) }

// rawEventStream reads an AWS event stream and delivers each event's
// payload as received (an InvokeModel chunk's bytes decoded from base64).
//
// Its streamBody's ended is set once Recv has returned an exception
// message, after which Bedrock ends the body. A stream that ends normally
// needs no drain: Recv reports its end only at the body's end.
type rawEventStream struct {
	streamBody
	dialect inference.Dialect
	// payload and chunk are reused for every event.
	payload []byte
	chunk   []byte
	primed  bool
	first   inference.Event
	stopped bool
	started bool
}

// Ready implements inference.Readier: the first event is held, or a whole
// message is buffered that Recv delivers (or refuses) without reading on:
// any message of a Converse stream; of an InvokeModel stream a chunk or an
// exception (Recv skips other events and reads on).
func (s *rawEventStream) Ready() bool {
	if s.primed {
		return true
	}
	buf, _ := s.r.Peek(s.r.Buffered())
	if len(buf) < 12 {
		return false
	}
	total, hlen := binary.BigEndian.Uint32(buf[0:4]), binary.BigEndian.Uint32(buf[4:8])
	switch {
	case total < 16 || total > maxFrame || hlen > total-16:
		return true // malformed: refused at once
	case uint32(len(buf)) < total:
		return false
	case s.dialect == inference.DialectConverse:
		return true
	}
	h := buf[12 : 12+hlen]
	// Recv takes a message without a :message-type for an event.
	exception := bytes.Contains(h, messageTypeHeader) && !bytes.Contains(h, eventHeader)
	return exception || bytes.Contains(h, chunkHeader)
}

// chunkHeader and eventHeader are the encoded headers :event-type: chunk
// and :message-type: event (name length, name, string type, value length,
// value); messageTypeHeader is the name of the latter.
var (
	chunkHeader       = []byte("\x0b:event-type\x07\x00\x05chunk")
	eventHeader       = []byte("\x0d:message-type\x07\x00\x05event")
	messageTypeHeader = []byte("\x0d:message-type\x07")
)

// Recv implements inference.Stream.
func (s *rawEventStream) Recv() (inference.Event, error) {
	if s.primed {
		s.primed = false
		return s.first, nil
	}
	for {
		s.timer.Reset(s.idle)
		m, err := readFrame(s.r, &s.payload)
		s.timer.Stop()
		if err != nil {
			if errors.Is(err, io.EOF) && s.stopped {
				return inference.Event{}, io.EOF
			}
			if s.timedOut.Load() {
				return inference.Event{}, &inference.Error{Kind: inference.KindTimeout, Message: "Amazon Bedrock stopped sending (no event for " + s.idle.String() + ")", Err: err}
			}
			if errors.Is(err, io.EOF) {
				return inference.Event{}, &inference.Error{Kind: inference.KindUpstream, Message: "Amazon Bedrock's stream ended early", Err: io.ErrUnexpectedEOF}
			}
			return inference.Event{}, readError(s.ctx, "read Bedrock stream", err)
		}
		if m.messageType != nil && string(m.messageType) != "event" {
			s.ended.Store(true)
			return inference.Event{}, streamException(string(m.exceptionType), m.payload)
		}
		name := eventName(m.eventType)
		ev, ok, err := s.classify(name, m.payload)
		if err != nil {
			return inference.Event{}, err
		}
		if ok {
			return ev, nil
		}
	}
}

// classify turns one event's payload into an Event, reading only what
// the gateway needs (stop, usage).
func (s *rawEventStream) classify(name string, payload []byte) (inference.Event, bool, error) {
	ev := inference.Event{Kind: inference.EventDelta, Dialect: s.dialect, Name: name, Raw: payload}
	if s.dialect == inference.DialectConverse {
		switch name {
		case "messageStart":
			ev.Kind = inference.EventStart
		case "messageStop":
			ev.Kind, ev.StopReason = inference.EventStop, converseStop(string(inference.StringAfter(payload, `"stopReason":`)))
			s.stopped = true
		case "metadata":
			var u converseUsage
			if f := inference.Field(payload, "usage"); f != nil && json.Unmarshal(f, &u) == nil {
				usage := u.usage()
				ev.Kind, ev.Usage = inference.EventUsage, &usage
			}
		}
		return ev, true, nil
	}
	if name != "chunk" {
		return ev, false, nil
	}
	b64 := inference.StringAfter(payload, `"bytes":`)
	n := base64.StdEncoding.DecodedLen(len(b64))
	if cap(s.chunk) < n {
		s.chunk = make([]byte, n)
	}
	n, err := base64.StdEncoding.Decode(s.chunk[:n], b64)
	if err != nil {
		return ev, false, &inference.Error{Kind: inference.KindUpstream, Message: "Amazon Bedrock sent a malformed chunk", Err: err}
	}
	ev.Raw = s.chunk[:n]
	switch typ := string(inference.StringAfter(ev.Raw, `"type":`)); {
	case bytes.Contains(ev.Raw, []byte(`"amazon-bedrock-invocationMetrics"`)):
		var m struct {
			Metrics struct {
				InputTokenCount  int `json:"inputTokenCount"`
				OutputTokenCount int `json:"outputTokenCount"`
			} `json:"amazon-bedrock-invocationMetrics"`
		}
		json.Unmarshal(ev.Raw, &m)
		ev.Kind, ev.Usage = inference.EventUsage, &inference.Usage{InputTokens: m.Metrics.InputTokenCount, OutputTokens: m.Metrics.OutputTokenCount}
		s.stopped = true
	case typ == "message_start" && !s.started:
		ev.Kind = inference.EventStart
	case typ == "message_delta":
		ev.Kind = inference.EventStop
		s.stopped = true
	case typ == "message_stop":
		ev.Kind = inference.EventStop
		s.stopped = true
	}
	s.started = true
	return ev, true, nil
}

// converseStop maps a Converse stopReason.
func converseStop(s string) inference.StopReason {
	switch s {
	case "max_tokens", "model_context_window_exceeded":
		return inference.StopMaxTokens
	case "stop_sequence":
		return inference.StopSequence
	case "content_filtered", "guardrail_intervened":
		return inference.StopContentFiltered
	}
	return inference.StopEndTurn
}

// streamException maps an exception message of an event stream.
func streamException(typ string, payload []byte) *inference.Error {
	var body struct {
		Message string `json:"message"`
	}
	json.Unmarshal(payload, &body)
	e := &inference.Error{Kind: inference.KindUpstream, Message: "Amazon Bedrock failed mid-stream (" + truncate(typ, 64) + ")",
		Err: fmt.Errorf("bedrock stream exception %s: %s", typ, truncate(body.Message, maxUpstreamMessage))}
	switch typ {
	case "throttlingException", "serviceQuotaExceededException":
		e.Kind = inference.KindThrottled
	case "serviceUnavailableException":
		e.Kind = inference.KindUnavailable
	case "modelTimeoutException":
		e.Kind = inference.KindTimeout
	case "validationException":
		e.Kind, e.Message = inference.KindInvalidRequest, "Amazon Bedrock rejected the request: "+truncate(body.Message, maxUpstreamMessage)
	}
	return e
}

// Close implements inference.Stream. After an exception it first reads the
// rest of the body, in the background (streamBody.drain).
func (s *rawEventStream) Close() error {
	s.close()
	return nil
}
