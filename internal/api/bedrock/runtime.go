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
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// decodeFunc translates a request body for modelID.
type decodeFunc func(modelID string, body []byte, stream bool) (*inference.Request, error)

// serve is the part every runtime operation shares: authenticate, decode,
// invoke through the gateway. It returns nil after rendering an error.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, op string, stream bool, decode decodeFunc) (*gateway.Call, *gateway.Outcome) {
	call := h.begin(w, r, op)
	body, err := h.readAuthenticated(w, r, call)
	if err != nil {
		h.reject(w, r, call, err)
		return nil, nil
	}
	model := r.PathValue("modelId") // decoded: an ARN's "/" arrives as %2F
	req, err := decode(model, body, stream)
	call.Request = req
	switch {
	case err != nil:
	case model == "":
		err = invalid("modelId is required")
	case len(model) > maxModelIDBytes:
		err = invalid("modelId " + strconv.Quote(auth.Truncate(model, maxQuoted)) + " is longer than " + strconv.Itoa(maxModelIDBytes) + " bytes")
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
	gateway.CopyServiceTier(w.Header(), out.Header)
	return call, out
}

func (h *Handler) converse(w http.ResponseWriter, r *http.Request) {
	call, out := h.serve(w, r, gateway.OpConverse, false, decodeConverse)
	if out == nil {
		return
	}
	writeJSON(w, http.StatusOK, converseBody(out.Response, h.latencyMs(call, out.Response)))
}

func (h *Handler) latencyMs(call *gateway.Call, resp *inference.Response) int64 {
	if resp != nil && resp.Latency > 0 {
		return resp.Latency.Milliseconds()
	}
	return h.opts.Now().Sub(call.Received).Milliseconds()
}

func (h *Handler) converseStream(w http.ResponseWriter, r *http.Request) {
	call, out := h.serve(w, r, gateway.OpConverseStream, true, decodeConverse)
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
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// After the first byte an error is reported in-stream, never
			// retried (invariant 3).
			e := inference.AsError(err)
			ew.exception(streamException(e, false), e.Message)
			return
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
	if !started {
		ew.event("messageStart", messageStartEvent{Role: "assistant"})
	}
	if inBlock {
		ew.event("contentBlockStop", contentBlockStopEvent{})
	}
	ew.event("messageStop", messageStopEvent{StopReason: stopReason(stop)})
	ew.event("metadata", metadataEvent{Usage: usageOf(usage), Metrics: metrics{LatencyMs: h.opts.Now().Sub(call.Received).Milliseconds()}})
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

func (h *Handler) invoke(w http.ResponseWriter, r *http.Request) {
	call, out := h.serve(w, r, gateway.OpInvokeModel, false, decodeInvoke(r))
	if out == nil {
		return
	}
	w.Header().Set("X-Amzn-Bedrock-Input-Token-Count", itoa(out.Response.Usage.InputTokens))
	w.Header().Set("X-Amzn-Bedrock-Output-Token-Count", itoa(out.Response.Usage.OutputTokens))
	w.Header().Set("X-Amzn-Bedrock-Invocation-Latency", itoa64(h.latencyMs(call, out.Response)))
	writeJSON(w, http.StatusOK, anthropicBody(messageID(call.RequestID), out.Route.Model, out.Response))
}

func decodeInvoke(r *http.Request) decodeFunc {
	return func(model string, body []byte, stream bool) (*inference.Request, error) {
		if err := checkInvokeContentType(r); err != nil {
			return &inference.Request{Model: model, Stream: stream}, err
		}
		if r.Header.Get("X-Amzn-Bedrock-Guardrailidentifier") != "" {
			return &inference.Request{Model: model, Stream: stream}, invalid("guardrails (X-Amzn-Bedrock-GuardrailIdentifier) are not supported by this gateway")
		}
		return decodeAnthropic(model, body, stream)
	}
}

func messageID(requestID string) string { return "msg_" + requestID }

// chunkEvent is the payload of an InvokeModelWithResponseStream `chunk`.
type chunkEvent struct {
	Bytes string `json:"bytes"`
}

func (h *Handler) invokeStream(w http.ResponseWriter, r *http.Request) {
	call, out := h.serve(w, r, gateway.OpInvokeModelWithResponseStream, true, decodeInvoke(r))
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
	stop := inference.StopEndTurn
	started, inBlock := false, false
	start := func() bool {
		started = true
		firstByte = h.opts.Now().Sub(call.Received)
		msg := anthropicResponse{ID: messageID(call.RequestID), Type: "message", Role: "assistant", Model: out.Route.Model,
			Content: []anthropicContent{}, Usage: anthropicUsage{InputTokens: call.Request.EstimatedInputTokens()}}
		return chunk(anthropicMessageStart{Type: "message_start", Message: msg})
	}
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			e := inference.AsError(err)
			ew.exception(streamException(e, true), e.Message)
			return
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
				ok = chunk(anthropicBlockStart{Type: "content_block_start", ContentBlock: anthropicContent{Type: "text"}})
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
	if !started && !start() {
		return
	}
	if !inBlock && !chunk(anthropicBlockStart{Type: "content_block_start", ContentBlock: anthropicContent{Type: "text"}}) {
		return
	}
	md := anthropicMessageDelta{Type: "message_delta", Usage: anthropicUsage{InputTokens: usage.InputTokens, OutputTokens: usage.OutputTokens}}
	md.Delta.StopReason = anthropicStop(stop)
	_ = chunk(anthropicBlockStop{Type: "content_block_stop"}) &&
		chunk(md) &&
		chunk(anthropicMessageStop{Type: "message_stop", Metrics: &invocationMetrics{InputTokenCount: usage.InputTokens, OutputTokenCount: usage.OutputTokens,
			InvocationLatency: h.opts.Now().Sub(call.Received).Milliseconds(), FirstByteLatency: firstByte.Milliseconds()}})
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
