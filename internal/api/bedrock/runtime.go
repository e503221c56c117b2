package bedrock

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/receipt"
	"github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// decodeFunc translates a request body for modelID.
type decodeFunc func(modelID string, body []byte, stream bool) (*inference.Request, error)

// serve is the part every runtime operation shares: authenticate, decode,
// invoke through the gateway. It returns nil after rendering an error.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, op string, stream bool, decode decodeFunc) (*gateway.Call, *gateway.Outcome) {
	call := h.begin(w, r, op)
	call.Receipt = gateway.WantsReceipt(r.Header)
	body, err := h.readAuthenticated(w, r, call)
	if err != nil {
		h.reject(w, r, call, err)
		return nil, nil
	}
	model := r.PathValue("modelId") // decoded: an ARN's "/" arrives as %2F
	req, err := decode(model, body, stream)
	call.Request = req
	if err == nil {
		err = checkBedrockHeaders(op, r.Header, body)
	}
	if err == nil {
		err = checkModelID(model)
	}
	if err != nil {
		h.reject(w, r, call, err)
		return nil, nil
	}
	out, err := h.g.Invoke(r.Context(), call)
	if err != nil {
		e := inference.AsError(err)
		if len(model) > maxQuoted {
			// The gateway's messages name the model id the caller sent.
			e.Message = strings.ReplaceAll(e.Message, model, auth.Truncate(model, maxQuoted))
		}
		writeError(w, e)
		return nil, nil
	}
	out.Route.SetHeaders(w.Header())
	gateway.CopyServedTier(w.Header(), out)
	if out.Response != nil && out.Response.Receipt != "" {
		w.Header().Set(receipt.Header, out.Response.Receipt)
	}
	return call, out
}

func (h *Handler) converse(w http.ResponseWriter, r *http.Request) {
	call, out := h.serve(w, r, gateway.OpConverse, false, peekConverse)
	if out == nil {
		return
	}
	if resp := out.Response; resp.Body != nil {
		if resp.Dialect == inference.DialectConverse {
			writeRawJSON(w, resp.Body) // passed through as the model answered
			return
		}
		b, err := dialect.TranslateResponse(resp, inference.DialectConverse, translate.ResponseMeta{LatencyMs: h.latencyMs(call, resp)})
		if err != nil {
			writeError(w, inference.AsError(err))
			return
		}
		writeRawJSON(w, b)
		return
	}
	writeJSON(w, http.StatusOK, converseBody(out.Response, h.latencyMs(call, out.Response)))
}

func (h *Handler) latencyMs(call *gateway.Call, resp *inference.Response) int64 {
	if resp != nil && resp.Latency > 0 {
		return resp.Latency.Milliseconds()
	}
	return h.opts.Clock.Now().Sub(call.Received).Milliseconds()
}

func (h *Handler) converseStream(w http.ResponseWriter, r *http.Request) {
	call, out := h.serve(w, r, gateway.OpConverseStream, true, peekConverse)
	if out == nil {
		return
	}
	s := out.Stream
	defer s.Close()
	w.Header().Set("Content-Type", ContentTypeEventStream)
	w.WriteHeader(http.StatusOK)
	ew := newEventWriter(w)
	var usage inference.Usage
	var stop inference.StopReason
	started, inBlock := false, false
	// Events with a body: the upstream's go out as sent, another dialect's
	// translated, except those that end the stream (messageStop,
	// metadata), held until the request is recorded.
	rl := &relay{client: inference.DialectConverse, meta: func() translate.ResponseMeta {
		return translate.ResponseMeta{LatencyMs: h.latencyMs(call, nil)}
	}}
	ew.relaying = s
	for {
		if !ew.flushIdle() {
			return // client went away; Close cancels the backend call
		}
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			ew.fail(err, false)
			return
		}
		if ev.Raw != nil && ev.Dialect != inference.DialectConverse {
			outs, err := rl.translate(&ev)
			if err != nil {
				ew.fail(err, false)
				return
			}
			for _, o := range outs {
				if !ew.raw(o.Type, o.Data) {
					return
				}
			}
			continue
		}
		if ev.Raw != nil && ev.Dialect == inference.DialectConverse {
			rl.passed = true
			if ending(&ev) {
				rl.hold(ev.Name, ev.Raw)
				continue
			}
			if !ew.raw(ev.Name, ev.Raw) {
				return
			}
			continue
		}
		ok := true
		switch ev.Kind {
		case inference.EventStart:
			if !started {
				started = true
				ok = ew.event("messageStart", messageStartEvent{Role: "assistant"})
			}
		case inference.EventDelta:
			if !started {
				started = true
				ok = ew.event("messageStart", messageStartEvent{Role: "assistant"})
			}
			inBlock = true
			ok = ok && ew.event("contentBlockDelta", contentBlockDeltaEvent{Delta: textBlock{Text: ev.Text}})
		case inference.EventStop:
			// Held back until the request is recorded (below).
			stop = ev.StopReason
		case inference.EventUsage:
			if ev.Usage != nil {
				usage = *ev.Usage
			}
		}
		if !ok {
			return // client went away; Close cancels the backend call
		}
	}
	// Record the request (audit) before the client sees its end: a node
	// that dies after this loses no answered request's event.
	s.Close()
	if rl.passed {
		held, err := rl.finish()
		if err != nil {
			ew.fail(err, false)
			return
		}
		if tok := gateway.StreamReceipt(s); tok != "" {
			for i := range held {
				if held[i].Type == "metadata" {
					held[i].Data = inference.AppendSetString(nil, held[i].Data, receipt.BedrockStreamField, tok)
				}
			}
		}
		for _, e := range held {
			if !ew.raw(e.Type, e.Data) {
				return
			}
		}
		return
	}
	if !started {
		ew.event("messageStart", messageStartEvent{Role: "assistant"})
	}
	if inBlock {
		ew.event("contentBlockStop", contentBlockStopEvent{})
	}
	ew.event("messageStop", messageStopEvent{StopReason: dialect.ConverseStopReason(stop)})
	meta := metadataEvent{Usage: usageOf(usage), Metrics: metrics{LatencyMs: h.opts.Clock.Now().Sub(call.Received).Milliseconds()}}
	if tok := gateway.StreamReceipt(s); tok != "" {
		b, _ := json.Marshal(meta)
		ew.raw("metadata", inference.AppendSetString(nil, b, receipt.BedrockStreamField, tok))
		return
	}
	ew.event("metadata", meta)
}

// checkInvokeContentType refuses bodies that are not JSON: Meridian serves
// the Anthropic Messages body on InvokeModel.
func checkInvokeContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return invalid("Content-Type " + strconv.Quote(auth.Truncate(ct, maxQuoted)) + " is not supported; send application/json")
	}
	return nil
}

// invokeHeaders are the InvokeModel request headers that ask the model for
// something, with the value that asks for nothing (the default): the
// gateway forwards the body only, so another value is refused rather than
// silently not applied (docs/architecture.md, invariant 6).
var invokeHeaders = []struct{ name, neutral, why string }{
	{"X-Amzn-Bedrock-GuardrailIdentifier", "", "guardrails are not supported by this gateway"},
	{"X-Amzn-Bedrock-GuardrailVersion", "", "guardrails are not supported by this gateway"},
	{"X-Amzn-Bedrock-Trace", "DISABLED", "Bedrock traces (of guardrails) are not supported by this gateway"},
	{"X-Amzn-Bedrock-PerformanceConfig-Latency", "standard", "latency-optimized inference is not supported by this gateway; send standard or leave it out"},
}

// checkInvokeHeaders refuses an InvokeModel request whose headers ask for
// what the gateway does not carry, naming the header.
func checkInvokeHeaders(h http.Header) error {
	for _, ih := range invokeHeaders {
		if v := h.Get(ih.name); v != "" && v != ih.neutral { // Get canonicalises the name
			return invalid(ih.name + " " + strconv.Quote(auth.Truncate(v, maxQuoted)) + ": " + ih.why)
		}
	}
	return nil
}

func (h *Handler) invoke(w http.ResponseWriter, r *http.Request) {
	call, out := h.serve(w, r, gateway.OpInvokeModel, false, h.inferenceGeo(decodeInvoke(r)))
	if out == nil {
		return
	}
	if resp := out.Response; resp.Body != nil {
		body := resp.Body
		if resp.Dialect != inference.DialectAnthropic && resp.Dialect != inference.DialectInvoke {
			var err error
			meta := translate.ResponseMeta{ID: messageID(call.RequestID), Model: call.Request.Model, StopSequences: translate.AnthropicStopSequences(call.Request.Body)}
			if body, err = dialect.TranslateResponse(resp, inference.DialectAnthropic, meta); err != nil {
				writeError(w, inference.AsError(err))
				return
			}
		}
		w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", itoa(resp.Usage.InputTokens))
		w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", itoa(resp.Usage.OutputTokens))
		w.Header().Set("X-Amzn-Bedrock-Invocation-Latency", itoa64(h.latencyMs(call, resp)))
		writeRawJSON(w, body)
		return
	}
	w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", itoa(out.Response.Usage.InputTokens))
	w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", itoa(out.Response.Usage.OutputTokens))
	w.Header().Set("X-Amzn-Bedrock-Invocation-Latency", itoa64(h.latencyMs(call, out.Response)))
	writeJSON(w, http.StatusOK, dialect.AnthropicResponse(messageID(call.RequestID), call.Request.Model, out.Response))
}

func decodeInvoke(r *http.Request) decodeFunc {
	return func(model string, body []byte, stream bool) (*inference.Request, error) {
		if err := checkInvokeContentType(r); err != nil {
			return &inference.Request{Model: model, Stream: stream}, err
		}
		if err := checkInvokeHeaders(r.Header); err != nil {
			return &inference.Request{Model: model, Stream: stream}, err
		}
		req, err := inference.PeekInvoke(model, body, stream)
		if err != nil {
			return req, err
		}
		req.Metadata, err = invokeMetadata(r.Header)
		return req, err
	}
}

// headerRequestMetadata is InvokeModel's request metadata: a JSON object
// of strings, for filtering invocation logs.
const headerRequestMetadata = "X-Amzn-Bedrock-Request-Metadata"

// invokeMetadata reads the request metadata header onto the request, as
// Converse's requestMetadata is read from the body: the audit events of
// the source and of a destination record it, the link carries it beside
// the body (interregion.linkMetadata), and a bedrock deployment sends it
// on in the same header (or in requestMetadata, when it calls Converse);
// see docs/api.md. nil when absent.
func invokeMetadata(h http.Header) (map[string]string, error) {
	v := h.Get(headerRequestMetadata)
	if v == "" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil || m == nil {
		return nil, invalid(headerRequestMetadata + " must be a JSON object of strings")
	}
	if err := inference.ValidateMetadata(m); err != nil {
		return nil, invalid(headerRequestMetadata + " " + auth.Truncate(err.Error(), maxQuoted))
	}
	return m, nil
}

// peekConverse reads what the gateway acts on from a Converse body.
func peekConverse(model string, body []byte, stream bool) (*inference.Request, error) {
	req, err := inference.Peek(inference.DialectConverse, model, body, stream)
	return req, bedrockInvalid(err)
}

// bedrockInvalid renders a peek error in Bedrock's words: a
// ValidationException's message names the field itself.
func bedrockInvalid(err error) error {
	if e, ok := err.(*inference.Error); ok && e.Kind == inference.KindInvalidRequest {
		return invalid(e.Message)
	}
	return err
}

// writeRawJSON writes an upstream's JSON answer as received.
func writeRawJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func messageID(requestID string) string { return "msg_" + requestID }

// chunkEvent is the payload of an InvokeModelWithResponseStream `chunk`.
type chunkEvent struct {
	Bytes string `json:"bytes"`
}

func (h *Handler) invokeStream(w http.ResponseWriter, r *http.Request) {
	call, out := h.serve(w, r, gateway.OpInvokeModelWithResponseStream, true, h.inferenceGeo(decodeInvoke(r)))
	if out == nil {
		return
	}
	s := out.Stream
	defer s.Close()
	w.Header().Set("Content-Type", ContentTypeEventStream)
	w.Header().Set("X-Amzn-Bedrock-Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	ew := newEventWriter(w)
	chunk := func(v any) bool {
		b, err := json.Marshal(v)
		if err != nil {
			return false
		}
		return ew.event("chunk", chunkEvent{Bytes: base64.StdEncoding.EncodeToString(b)})
	}
	var firstByte time.Duration
	var usage inference.Usage
	var buf []byte
	// Events with a body: Anthropic's (or another family's) go out as
	// sent, another dialect's translated to Anthropic's, each in a chunk;
	// those that end the stream wait for the record.
	rl := &relay{client: inference.DialectAnthropic, meta: func() translate.ResponseMeta {
		return translate.ResponseMeta{ID: messageID(call.RequestID), Model: call.Request.Model, StopSequences: translate.AnthropicStopSequences(call.Request.Body)}
	}}
	stop := inference.StopEndTurn
	started, inBlock := false, false
	start := func() bool {
		started = true
		firstByte = h.opts.Clock.Now().Sub(call.Received)
		msg := dialect.AnthropicMessageStart(messageID(call.RequestID), call.Request.Model, call.Request.EstimatedInputTokens())
		return chunk(anthropicMessageStart{Type: "message_start", Message: msg})
	}
	ew.relaying = s
	for {
		if !ew.flushIdle() {
			return // client went away; Close cancels the backend call
		}
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			ew.fail(err, true)
			return
		}
		if ev.Raw != nil && ev.Dialect != inference.DialectAnthropic && ev.Dialect != inference.DialectInvoke {
			if ev.Usage != nil {
				usage = *ev.Usage // for the invocation metrics of the translated end
			}
			outs, err := rl.translate(&ev)
			if err != nil {
				ew.fail(err, true)
				return
			}
			if firstByte == 0 && len(outs) > 0 {
				firstByte = h.opts.Clock.Now().Sub(call.Received)
			}
			for _, o := range outs {
				if !ew.chunk(&buf, o.Data) {
					return
				}
			}
			continue
		}
		if ev.Raw != nil && (ev.Dialect == inference.DialectAnthropic || ev.Dialect == inference.DialectInvoke) {
			rl.passed = true
			if ending(&ev) || rl.held != nil {
				rl.hold("", ev.Raw)
				continue
			}
			if !ew.chunk(&buf, ev.Raw) {
				return
			}
			continue
		}
		ok := true
		switch ev.Kind {
		case inference.EventStart:
			if !started {
				ok = start()
			}
		case inference.EventDelta:
			if !started {
				ok = start()
			}
			if ok && !inBlock {
				inBlock = true
				ok = chunk(anthropicBlockStart{Type: "content_block_start", ContentBlock: anthropic.Block{Type: anthropic.BlockText}})
			}
			d := anthropicBlockDelta{Type: "content_block_delta"}
			d.Delta.Type, d.Delta.Text = "text_delta", ev.Text
			ok = ok && chunk(d)
		case inference.EventStop:
			stop = ev.StopReason
		case inference.EventUsage:
			if ev.Usage != nil {
				usage = *ev.Usage
			}
		}
		if !ok {
			return
		}
	}
	// Record the request (audit) before the client sees its end.
	s.Close()
	if rl.passed {
		held, err := rl.finish()
		if err != nil {
			ew.fail(err, true)
			return
		}
		if rl.tr != nil {
			held = withInvocationMetrics(held, invocationMetrics{InputTokenCount: usage.InputTokens, OutputTokenCount: usage.OutputTokens,
				InvocationLatency: h.opts.Clock.Now().Sub(call.Received).Milliseconds(), FirstByteLatency: firstByte.Milliseconds()})
		}
		if tok := gateway.StreamReceipt(s); tok != "" && len(held) > 0 {
			last := len(held) - 1
			held[last].Data = inference.AppendSetString(nil, held[last].Data, receipt.BedrockStreamField, tok)
		}
		for _, c := range held {
			if !ew.chunk(&buf, c.Data) {
				return
			}
		}
		return
	}
	if !started && !start() {
		return
	}
	if !inBlock && !chunk(anthropicBlockStart{Type: "content_block_start", ContentBlock: anthropic.Block{Type: anthropic.BlockText}}) {
		return
	}
	md := anthropicMessageDelta{Type: "message_delta", Usage: anthropic.Usage{InputTokens: int64(usage.InputTokens), OutputTokens: int64(usage.OutputTokens)}}
	md.Delta.StopReason = dialect.AnthropicStopReason(stop)
	if !chunk(anthropicBlockStop{Type: "content_block_stop"}) || !chunk(md) {
		return
	}
	stopChunk := anthropicMessageStop{Type: "message_stop", Metrics: &invocationMetrics{InputTokenCount: usage.InputTokens, OutputTokenCount: usage.OutputTokens,
		InvocationLatency: h.opts.Clock.Now().Sub(call.Received).Milliseconds(), FirstByteLatency: firstByte.Milliseconds()}}
	if tok := gateway.StreamReceipt(s); tok != "" {
		b, err := json.Marshal(stopChunk)
		if err == nil {
			ew.chunk(&buf, inference.AppendSetString(nil, b, receipt.BedrockStreamField, tok))
		}
		return
	}
	chunk(stopChunk)
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// checkModelID refuses the path's modelId when it is empty or longer than
// maxModelIDBytes, as Bedrock does, quoting at most maxQuoted bytes of it.
func checkModelID(model string) error {
	switch {
	case model == "":
		return invalid("modelId is required")
	case len(model) > maxModelIDBytes:
		return invalid("modelId " + strconv.Quote(auth.Truncate(model, maxQuoted)) + " is longer than " + strconv.Itoa(maxModelIDBytes) + " bytes")
	}
	return nil
}
