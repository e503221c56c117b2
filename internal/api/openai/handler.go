package openai

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/header"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/receipt"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// Options configure the front end.
type Options struct {
	// MaxRequestBytes bounds request bodies (413 beyond). If zero, 4 MiB.
	MaxRequestBytes int64
	// Clock tells the time (request receipt, the created field). If nil,
	// clock.Wall.
	Clock clock.Clock
}

// Handler serves the OpenAI API for one gateway.
type Handler struct {
	g    *gateway.Gateway
	opts Options
}

// New returns the front end for g.
func New(g *gateway.Gateway, opts Options) *Handler {
	if opts.MaxRequestBytes == 0 {
		opts.MaxRequestBytes = 4 << 20
	}
	opts.Clock = clock.Or(opts.Clock)
	return &Handler{g: g, opts: opts}
}

// Register adds the front end's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/models", h.models)
	mux.HandleFunc("GET /v1/models/{id...}", h.model)
	mux.HandleFunc("POST /v1/chat/completions", h.chatCompletions)
	mux.HandleFunc("POST /v1/responses", h.responses)
	mux.HandleFunc("POST /v1/embeddings", h.embeddings)
}

// begin starts an inference request of operation op: it creates the
// call, sets the headers every answer carries, then authenticates the
// caller and reads the body, in that order
// ([gateway.Gateway.ReadAuthenticated]). It renders the error in OpenAI's
// shape and returns ok false on failure.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, op string) (call *gateway.Call, body []byte, ok bool) {
	call = gateway.NewCall(r, op, h.opts.Clock.Now())
	hb := header.NewBatch(w.Header(), 2)
	hb.Set(gateway.HeaderRequestID, call.RequestID)
	hb.Set(gateway.HeaderSourceRegion, h.g.Region())
	body, err := h.g.ReadAuthenticated(w, r, call, h.opts.MaxRequestBytes)
	if err != nil {
		h.reject(w, r, call, doorError(err))
		return call, nil, false
	}
	return call, body, true
}

// doorError gives an error of the front door (authentication, reading the
// body) the code OpenAI's API answers it with.
func doorError(err *inference.Error) *inference.Error {
	switch err.Kind {
	case inference.KindUnauthenticated:
		err.Code = "invalid_api_key"
	case inference.KindPayloadTooLarge:
		err.Code = "request_too_large"
	}
	return err
}

// reject records a request refused before the gateway's path and renders
// the error.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, call *gateway.Call, err error) {
	writeError(w, h.g.Reject(r.Context(), call, err))
}

// invoke makes req, as decoded from the body, the call's request and
// serves it through the gateway, setting the answer's headers; a request
// that did not decode (decodeErr) is rejected instead. It renders the
// error and returns nil on failure.
func (h *Handler) invoke(w http.ResponseWriter, r *http.Request, call *gateway.Call, req *inference.Request, decodeErr error) *gateway.Outcome {
	return h.invokeNaming(w, r, call, req, decodeErr, nil)
}

// invokeNaming is invoke for a front end whose body the gateway sees
// translated: rename renames the field an error names (in the translated
// body) to the caller's.
func (h *Handler) invokeNaming(w http.ResponseWriter, r *http.Request, call *gateway.Call, req *inference.Request, decodeErr error, rename func(*inference.Error)) *gateway.Outcome {
	call.Request = req
	if decodeErr != nil {
		h.reject(w, r, call, decodeErr)
		return nil
	}
	out, err := h.g.Invoke(r.Context(), call)
	if err != nil {
		e := inference.AsError(err)
		if rename != nil && e.Param != "" {
			rename(e)
		}
		writeError(w, e)
		return nil
	}
	gateway.SetOutcomeHeaders(w.Header(), out)
	return out
}

// models serves GET /v1/models in OpenAI's shape: the entries callable
// lists, as GET /v1/models/{id} and Anthropic's shape do.
func (h *Handler) models(w http.ResponseWriter, r *http.Request) {
	call := h.beginListing(w, r)
	if call == nil {
		return
	}
	list := modelList{Object: "list", Data: []modelEntry{}}
	for _, m := range h.callable(call, false) {
		list.Data = append(list.Data, openAIEntry(m))
	}
	h.recordListing(r, call, "")
	writeJSON(w, http.StatusOK, list)
}

func (h *Handler) chatCompletions(w http.ResponseWriter, r *http.Request) {
	call, body, ok := h.begin(w, r, gateway.OpChatCompletions)
	if !ok {
		return
	}
	call.ServiceTier = gateway.ReadServiceTier(r.Header, body)
	call.Receipt = gateway.WantsReceipt(r.Header)
	req, includeUsage, err := decodeChat(body)
	out := h.invoke(w, r, call, req, err)
	if out == nil {
		return
	}
	if out.Stream != nil {
		h.writeStream(w, r, req, out, includeUsage)
		return
	}
	if tok := out.Response.Receipt; tok != "" {
		w.Header().Set(receipt.Header, tok)
	}
	if resp := out.Response; resp.Body != nil {
		if resp.Dialect == inference.DialectOpenAIChat {
			writeRaw(w, rewriteAnswer(resp.Body, call.RequestID, req.Model))
			return
		}
		b, err := dialect.TranslateResponse(resp, inference.DialectOpenAIChat, translate.ResponseMeta{ID: completionID(call.RequestID), Model: req.Model, Created: h.opts.Clock.Now().Unix()})
		if err != nil {
			writeError(w, inference.AsError(err))
			return
		}
		writeRaw(w, b)
		return
	}
	writeJSON(w, http.StatusOK, responseBody(call.RequestID, req.Model, h.opts.Clock.Now().Unix(), out.Response))
}

// rewriteChunk returns raw (a completion or a chunk as the upstream sent
// it) with its top-level id and model set to the gateway's, every other
// byte kept; buf and tmp are reused buffers (nil for one-off use).
func rewriteChunk(buf, tmp *[]byte, raw []byte, id, model string) []byte {
	var b, t []byte
	if buf != nil {
		b, t = (*buf)[:0], (*tmp)[:0]
	}
	t = inference.AppendSetString(t, raw, "id", id)
	b = inference.AppendSetString(b, t, "model", model)
	if buf != nil {
		*buf, *tmp = b, t
	}
	return b
}

// rewriteAnswer returns a passed-through answer with the gateway's id
// (completionID(requestID)) and model set in it, the bytes rewriteChunk
// gives: when one walk finds both values (inference.FieldSpans: every
// answer an upstream sends), the answer is copied once around them, into
// one allocation of its final size, rather than twice through
// rewriteChunk's two passes.
func rewriteAnswer(raw []byte, requestID, model string) []byte {
	s1, e1, s2, e2, ok := inference.FieldSpans(raw, "id", "model")
	if !ok {
		return rewriteChunk(nil, nil, raw, completionID(requestID), model)
	}
	var idBuf, modelBuf [128]byte
	idJSON := appendCompletionID(idBuf[:0], requestID)
	modelJSON := inference.AppendJSONString(modelBuf[:0], model)
	pieces := spliced(raw, s1, e1, idJSON, s2, e2, modelJSON)
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range pieces {
		out = append(out, p...)
	}
	return out
}

// spliced returns raw with its spans [s1, e1) and [s2, e2), which do not
// overlap, replaced by v1 and v2: the five pieces to write, in order.
func spliced(raw []byte, s1, e1 int, v1 []byte, s2, e2 int, v2 []byte) [5][]byte {
	if s2 < s1 {
		s1, e1, v1, s2, e2, v2 = s2, e2, v2, s1, e1, v1
	}
	return [5][]byte{raw[:s1], v1, raw[e1:s2], v2, raw[e2:]}
}

// appendCompletionID appends completionID(requestID) as a JSON string,
// without making the string when the id needs no escape.
func appendCompletionID(dst []byte, requestID string) []byte {
	for i := 0; i < len(requestID); i++ {
		if c := requestID[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return inference.AppendJSONString(dst, completionID(requestID))
		}
	}
	dst = append(dst, `"chatcmpl-`...)
	dst = append(dst, requestID...)
	return append(dst, '"')
}

// rawChunkWriter writes passed-through chunks with the gateway's id and
// model set in them, the bytes rewriteChunk gives. A chunk whose id and
// model one walk finds (inference.FieldSpans: every chunk an upstream
// sends) is written around the two values, encoded once per stream: no
// copy of the chunk. The walk is skipped when the chunk starts with the
// bytes the last walk read (its head: an upstream repeats the same id,
// object, created and model in every chunk), since a walk of the same
// bytes finds the same spans. Any other chunk goes through rewriteChunk,
// into buffers that only such a chunk grows.
type rawChunkWriter struct {
	// enc holds the id's JSON string, the model's from split on, and the
	// last walked head from headAt on (none when the walk failed or read
	// more than maxHead bytes); set by the first chunk.
	enc           []byte
	split, headAt int
	// s1, e1, s2, e2 are the spans of the id and model values in head.
	s1, e1, s2, e2 int
	buf, tmp       []byte
}

// maxHead bounds the head a rawChunkWriter keeps: the stream holds it
// for its whole life.
const maxHead = 256

func (c *rawChunkWriter) write(bw *bufio.Writer, raw []byte, id, model string) {
	if c.enc == nil {
		// One allocation per stream: the two values and a head (one more
		// when escaping lengthens the values).
		c.enc = make([]byte, 0, len(id)+len(model)+4+maxHead)
		c.enc = inference.AppendJSONString(c.enc, id)
		c.split = len(c.enc)
		c.enc = inference.AppendJSONString(c.enc, model)
		c.headAt = len(c.enc)
	}
	s1, e1, s2, e2, ok := c.spans(raw)
	if !ok {
		c.buf = rewriteChunk(&c.buf, &c.tmp, raw, id, model)
		bw.Write(c.buf)
		return
	}
	for _, p := range spliced(raw, s1, e1, c.enc[:c.split], s2, e2, c.enc[c.split:c.headAt]) {
		bw.Write(p)
	}
}

// spans returns inference.FieldSpans(raw, "id", "model"), from the last
// walk when raw starts with its head. FieldSpans's answer depends on no
// byte past the later value's end and the byte after it (a literal's
// delimiter), so the head kept is raw up to that byte, and only when raw
// has it.
func (c *rawChunkWriter) spans(raw []byte) (s1, e1, s2, e2 int, ok bool) {
	if head := c.enc[c.headAt:]; len(head) > 0 && bytes.HasPrefix(raw, head) {
		return c.s1, c.e1, c.s2, c.e2, true
	}
	s1, e1, s2, e2, ok = inference.FieldSpans(raw, "id", "model")
	c.enc = c.enc[:c.headAt]
	if n := max(e1, e2) + 1; ok && n <= len(raw) && n <= maxHead {
		c.enc = append(c.enc, raw[:n]...)
		c.s1, c.e1, c.s2, c.e2 = s1, e1, s2, e2
	}
	return s1, e1, s2, e2, ok
}

// writeRaw writes a JSON body as the upstream sent it (rewritten).
func writeRaw(w http.ResponseWriter, b []byte) {
	hb := header.NewBatch(w.Header(), 2)
	hb.Set("Content-Type", "application/json")
	hb.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// decodeChat peeks at an OpenAI chat completions body: it reads the model,
// streaming, max tokens and the features used, and keeps the body to be
// forwarded as received.
func decodeChat(body []byte) (*inference.Request, bool, error) {
	req, err := inference.Peek(inference.DialectOpenAIChat, "", body, false)
	return req, req.IncludeUsage, err
}

func invalid(param, msg string) *inference.Error {
	return &inference.Error{Kind: inference.KindInvalidRequest, Message: msg, Param: param}
}

func completionID(requestID string) string { return "chatcmpl-" + requestID }

func responseBody(requestID, model string, created int64, resp *inference.Response) chatResponse {
	text := resp.Message.Text()
	fr := dialect.OpenAIFinishReason(resp.StopReason)
	return chatResponse{
		ID: completionID(requestID), Object: "chat.completion", Created: created, Model: model,
		Choices: []chatChoice{{Index: 0, Message: &respMessage{Role: "assistant", Content: &text}, FinishReason: &fr}},
		Usage:   &chatUsage{PromptTokens: resp.Usage.InputTokens, CompletionTokens: resp.Usage.OutputTokens, TotalTokens: resp.Usage.Total()},
	}
}

// writeStream relays a stream as OpenAI chat.completion.chunk events.
func (h *Handler) writeStream(w http.ResponseWriter, r *http.Request, req *inference.Request, out *gateway.Outcome, includeUsage bool) {
	s := out.Stream
	defer s.Close()
	es := gateway.StartEventStream(w)
	bw, flush := es.W, es.Flush
	id, created := completionID(out.Route.RequestID), h.opts.Clock.Now().Unix()
	chunk := chatResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model}
	// One chunk, choice and delta serve every event, and the encoder writes
	// straight into bw: a token costs no allocation. Encode
	// produces json.Marshal's bytes followed by "\n".
	enc := json.NewEncoder(bw)
	var choice [1]chatChoice
	var delta respMessage
	var text, fr string
	// Events are written to bw as they come and flushed before a Recv
	// that may wait (es.FlushIdle).
	send := func(c *chatResponse) {
		bw.WriteString("data: ")
		enc.Encode(c)
		bw.WriteString("\n")
	}
	empty := ""
	var usage *inference.Usage
	// Pass-through: events go out as the upstream sent them, with the id
	// and model set (no allocation per token).
	var held []byte
	var rw rawChunkWriter
	sendRaw := func(raw []byte) {
		bw.WriteString("data: ")
		rw.write(bw, raw, id, req.Model)
		bw.WriteString("\n\n")
	}
	// Translation: events of another dialect become OpenAI chunks; those
	// that end the stream wait for the record like the usage chunk.
	var tr *dialect.StreamTranslator
	var heldT []translate.Event
	sendPlain := func(data []byte) {
		bw.WriteString("data: ")
		bw.Write(data)
		bw.WriteString("\n\n")
	}
	inStreamError := func(err error) {
		// After the first byte an error is reported in-stream, never
		// retried (invariant 3).
		e := inference.AsError(err)
		b, _ := json.Marshal(errorBody{Error: detail(e)})
		sendPlain(b)
		flush()
	}
	for {
		if !es.FlushIdle(s) {
			return // client went away; Close cancels the backend call
		}
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			inStreamError(err)
			return
		}
		if ev.Raw != nil && ev.Dialect != inference.DialectOpenAIChat {
			if tr == nil {
				if tr, err = dialect.NewStreamTranslator(ev.Dialect, inference.DialectOpenAIChat,
					translate.ResponseMeta{ID: id, Model: req.Model, Created: created, IncludeUsage: includeUsage}); err != nil {
					inStreamError(err)
					return
				}
			}
			outs, err := tr.Next(&ev)
			if err != nil {
				inStreamError(err)
				return
			}
			if ev.Kind == inference.EventStop || ev.Kind == inference.EventUsage || heldT != nil {
				heldT = dialect.CopyEvents(heldT, outs)
				continue
			}
			for _, o := range outs {
				sendPlain(o.Data)
			}
			continue
		}
		if ev.Raw != nil {
			if ev.Kind == inference.EventUsage {
				// Held back until the request is recorded (below).
				usage, held = ev.Usage, append(held[:0], ev.Raw...)
				continue
			}
			sendRaw(ev.Raw)
			continue
		}
		switch ev.Kind {
		case inference.EventStart:
			delta = respMessage{Role: "assistant", Content: &empty}
			choice[0] = chatChoice{Delta: &delta}
		case inference.EventDelta:
			text = ev.Text
			delta = respMessage{Content: &text}
			choice[0] = chatChoice{Delta: &delta}
		case inference.EventStop:
			fr = dialect.OpenAIFinishReason(ev.StopReason)
			delta = respMessage{}
			choice[0] = chatChoice{Delta: &delta, FinishReason: &fr}
		case inference.EventUsage:
			usage = ev.Usage
			continue
		default:
			continue
		}
		chunk.Choices = choice[:]
		send(&chunk)
	}
	// Record the request (audit) before the client sees its end: a node
	// that dies after this loses no answered request's event.
	s.Close()
	if tr != nil {
		fin, err := tr.Finish()
		if err != nil {
			inStreamError(err)
			return
		}
		for _, o := range append(heldT, fin...) {
			sendPlain(o.Data)
		}
	} else if held != nil {
		if !includeUsage {
			// The caller did not ask for usage: keep the chunk only for
			// the choices it may carry.
			if c := inference.Field(held, "choices"); c == nil || string(c) == "[]" {
				held = nil
			} else {
				held = inference.AppendSetField(nil, held, "usage", []byte("null"))
			}
		}
		if held != nil {
			sendRaw(held)
		}
	} else if includeUsage && usage != nil {
		chunk.Choices = choice[:0]
		chunk.Usage = &chatUsage{PromptTokens: usage.InputTokens, CompletionTokens: usage.OutputTokens, TotalTokens: usage.Total()}
		send(&chunk)
	}
	if tok := gateway.StreamReceipt(s); tok != "" {
		// The receipt rides in a last chunk of its own, before [DONE]
		// (docs/receipts.md); clients ignore the unknown member.
		fin := chatResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model, Choices: choice[:0]}
		b, _ := json.Marshal(&fin)
		sendPlain(inference.AppendSetString(nil, b, receipt.StreamField, tok))
	}
	bw.WriteString("data: [DONE]\n\n")
	// Into the response's buffer, not flushed: the handler's return,
	// right after, writes it with the body's end (HTTP/1.1's last chunk,
	// HTTP/2's END_STREAM) in one write, where a flush here cost the
	// client a write (and a read) of its own for [DONE].
	bw.Flush()
}

func detail(e *inference.Error) errorDetail {
	d := errorDetail{Message: e.Message}
	switch e.Kind {
	case inference.KindInvalidRequest, inference.KindNotFound, inference.KindPayloadTooLarge:
		d.Type = "invalid_request_error"
	case inference.KindUnauthenticated:
		d.Type = "authentication_error"
	case inference.KindPermissionDenied:
		d.Type = "permission_denied"
	case inference.KindThrottled:
		d.Type = "rate_limit_error"
	case inference.KindTimeout:
		d.Type = "timeout"
	default:
		d.Type = "server_error"
	}
	code := e.Code
	if code == "" {
		switch e.Kind {
		case inference.KindThrottled:
			code = "rate_limit_exceeded"
		case inference.KindPermissionDenied:
			code = "permission_denied"
		case inference.KindNotFound:
			code = "model_not_found"
		default:
			code = e.Kind.String()
		}
	}
	d.Code = &code
	if e.Param != "" {
		p := e.Param
		d.Param = &p
	}
	return d
}

// writeError renders an error in OpenAI's shape, with Retry-After for 429s.
func writeError(w http.ResponseWriter, e *inference.Error) {
	for k, v := range e.Header {
		w.Header()[k] = v
	}
	e.SetRetryAfter(w.Header())
	writeJSON(w, e.Kind.Status(), errorBody{Error: detail(e)})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"message":"internal error","type":"server_error"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(b)
	w.Write([]byte("\n"))
}
