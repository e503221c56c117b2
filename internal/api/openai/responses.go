package openai

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/receipt"
	schema "github.com/meridian-gateway/meridian/internal/schema/openai"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// Operations of the OpenAI front end beyond chat completions; records,
// audit events and metrics name the API with them.
const (
	OpResponses  = "Responses"
	OpEmbeddings = "Embeddings"
)

// responses serves POST /v1/responses, stateless: the request is
// translated to a Chat Completions body at the door and routed, admitted,
// authorized, metered and audited like a chat completion; the backend's
// answer, in whatever dialect it speaks, is translated straight to a
// Response (or to the typed Responses stream events).
func (h *Handler) responses(w http.ResponseWriter, r *http.Request) {
	call, body, ok := h.begin(w, r, OpResponses)
	if !ok {
		return
	}
	// The tier is read from the caller's Responses body, as chat reads
	// its own: the header, else service_tier (the same name in both APIs).
	call.ServiceTier = gateway.ReadServiceTier(r.Header, body)
	call.Receipt = gateway.WantsReceipt(r.Header)
	rreq, req, path, err := decodeResponses(body)
	out := h.invokeNaming(w, r, call, req, err, func(e *inference.Error) { renameResponses(e, path) })
	if out == nil {
		return
	}
	meta := translate.ResponseMeta{ID: responseID(call.RequestID), Model: rreq.Model, Created: h.opts.Clock.Now().Unix()}
	if out.Stream != nil {
		h.writeResponsesStream(w, rreq, out, meta)
		return
	}
	resp := out.Response
	from, raw := translate.OpenAI, resp.Body
	if raw != nil {
		d, ok := dialect.WireDialect(resp.Dialect)
		if !ok {
			writeError(w, &inference.Error{Kind: inference.KindInternal, Message: "internal error", Err: errors.New("answer in " + resp.Dialect.String())})
			return
		}
		from = d
	} else {
		raw, err = json.Marshal(responseBody(call.RequestID, rreq.Model, meta.Created, resp))
		if err != nil {
			writeError(w, inference.AsError(err))
			return
		}
	}
	b, err := translate.ResponsesResponse(from, rreq, raw, meta)
	if err != nil {
		writeError(w, dialect.TranslateError(err))
		return
	}
	if resp.Receipt != "" {
		w.Header().Set(receipt.Header, resp.Receipt)
	}
	writeRaw(w, b)
}

// decodeResponses reads a Responses body: it refuses what a stateless
// gateway cannot serve (previous_response_id, stored prompts...) with a
// 400 naming the field, translates the rest to a Chat Completions body
// and peeks at that for routing. The chat body's model is the caller's,
// as the gateway resolves it. path names a member of the chat body by its
// path in the Responses request (see renameResponses); it is nil when
// the body could not be translated.
func decodeResponses(body []byte) (*schema.ResponsesRequest, *inference.Request, func(string) string, error) {
	rreq, err := translate.DecodeResponsesRequest(body)
	if err != nil {
		return nil, &inference.Request{Dialect: inference.DialectOpenAIChat}, nil, dialect.TranslateError(err)
	}
	refused := &inference.Request{Model: inference.Clip(rreq.Model, inference.MaxModelBytes), Dialect: inference.DialectOpenAIChat}
	if rreq.Model == "" {
		return rreq, refused, nil, invalid("model", "model is required")
	}
	stream := rreq.Stream != nil && *rreq.Stream
	chat, path, err := translate.ResponsesChatRequest(body, rreq.Model, stream)
	if err != nil {
		return rreq, refused, nil, translationRefusal(err)
	}
	req, perr := inference.Peek(inference.DialectOpenAIChat, "", chat, false)
	if perr != nil {
		e := inference.AsError(perr)
		renameResponses(e, path)
		return rreq, req, path, e
	}
	if req.MaxTokensParam == "" || req.MaxTokensParam == "max_completion_tokens" || req.MaxTokensParam == "max_tokens" {
		req.MaxTokensParam = "max_output_tokens"
	}
	if len(rreq.Metadata) > 0 {
		// The chat body leaves metadata out (Chat Completions takes it
		// only with store): it is carried beside the body, to the audit
		// trail, across the link and to a Bedrock deployment as
		// requestMetadata.
		if err := inference.ValidateOpenAIMetadata(rreq.Metadata); err != nil {
			return rreq, req, path, invalid("metadata", "metadata "+err.Error())
		}
		req.Metadata = rreq.Metadata
	}
	return rreq, req, path, nil
}

// translationRefusal is the 400 for a Responses request the translation
// to Chat Completions refused. The translator's message says the model
// is served through the Chat Completions API, which is not what the
// caller's deployment speaks: every Responses request is translated to
// Chat Completions at the door, whatever the deployment, so the message
// says that.
func translationRefusal(err error) *inference.Error {
	e := dialect.TranslateError(err)
	var ue *translate.UnsupportedError
	if errors.As(err, &ue) {
		msg := "not supported by Meridian's Responses API"
		if e.Param != "" {
			msg = e.Param + ": " + msg
		}
		if ue.Reason != "" {
			msg += " (" + inference.Clip(ue.Reason, 2*inference.EchoLimit) + ")"
		}
		e.Message = msg + ", which translates each request to Chat Completions"
	}
	return e
}

func responseID(requestID string) string { return "resp_" + requestID }

// renameResponses names the field an error names in the Chat Completions
// body a Responses request is translated to (internal/translate,
// responses_openai.go) as the Responses request wrote it, in param and at
// the head of the message, so that a refusal, whether the source or a
// destination over the link made it, names what the caller sent: path
// (the translator's, nil if there is none) places a member of a message
// or tool; what it leaves unchanged, responsesParam renames.
func renameResponses(e *inference.Error, path func(string) string) {
	old := e.Param
	if old == "" {
		return
	}
	p := old
	if path != nil {
		p = path(old)
	}
	if p == old {
		p = responsesParam(old)
	}
	if p == old {
		return
	}
	e.Param = inference.Clip(p, inference.EchoLimit)
	if rest, ok := strings.CutPrefix(e.Message, old+": "); ok {
		e.Message = e.Param + ": " + rest
	} else if rest, ok := strings.CutPrefix(e.Message, old+" "); ok {
		e.Message = e.Param + " " + rest
	}
}

// responsesParam renames a top-level field of the Chat Completions body a
// Responses request is translated to the Responses field it came from.
// Fields of the same name in both APIs (tools, tool_choice, temperature,
// top_p, metadata, ...) keep theirs.
func responsesParam(p string) string {
	for _, m := range [...]struct{ chat, responses string }{
		{"max_completion_tokens", "max_output_tokens"},
		{"max_tokens", "max_output_tokens"},
		{"messages", "input"},
		{"response_format", "text.format"},
		{"reasoning_effort", "reasoning.effort"},
		{"verbosity", "text.verbosity"},
	} {
		if p == m.chat {
			return m.responses
		}
		if rest, ok := strings.CutPrefix(p, m.chat); ok && (rest[0] == '[' || rest[0] == '.') {
			// A path the translator could not place: the index of a
			// translated message is not the caller's item's, so name the
			// member only.
			return m.responses
		}
	}
	return p
}

// writeResponsesStream relays a stream as the Responses API's typed
// server-sent events (an `event:` line naming each event's type).
func (h *Handler) writeResponsesStream(w http.ResponseWriter, rreq *schema.ResponsesRequest, out *gateway.Outcome, meta translate.ResponseMeta) {
	s := out.Stream
	defer s.Close()
	es := gateway.StartEventStream(w)
	bw, flush := es.W, es.Flush
	// Events are flushed before a Recv that may wait (see writeStream).
	send := func(evs []translate.Event) {
		for _, e := range evs {
			bw.WriteString("event: ")
			bw.WriteString(e.Type)
			bw.WriteString("\ndata: ")
			bw.Write(e.Data)
			bw.WriteString("\n\n")
		}
	}
	var tr *translate.ResponsesStream
	var from inference.Dialect
	fail := func(err error) {
		// After the first byte an error is reported in-stream, never
		// retried (invariant 3).
		if tr == nil {
			if tr, _ = translate.NewResponsesStream(translate.OpenAI, rreq, meta); tr == nil {
				return
			}
		}
		// The same message and code as a Chat Completions stream's error
		// chunk (detail), so that one cause reads the same on both APIs.
		d := detail(inference.AsError(err))
		evs, _ := tr.Fail(&translate.StreamError{Type: *d.Code, Message: d.Message})
		send(evs)
		flush()
	}
	// Events without a raw body (a backend that re-encoded the request)
	// become Chat Completions chunks for the translator.
	chunk := chatResponse{ID: meta.ID, Object: "chat.completion.chunk", Created: meta.Created, Model: meta.Model}
	var held []translate.Event
	for {
		if !es.FlushIdle(s) {
			return // client went away; Close cancels the backend call
		}
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fail(err)
			return
		}
		te, ok := canonicalChunk(&chunk, &ev)
		d := inference.DialectOpenAIChat
		if ev.Raw != nil {
			d, te, ok = ev.Dialect, translate.Event{Type: ev.Name, Data: ev.Raw}, true
			if d == inference.DialectAnthropic {
				if f := inference.Field(ev.Raw, "type"); len(f) >= 2 {
					te.Type = string(f[1 : len(f)-1])
				}
			}
		}
		if !ok {
			continue
		}
		if tr == nil {
			wd, wok := dialect.WireDialect(d)
			if !wok {
				fail(&inference.Error{Kind: inference.KindInternal, Message: "internal error"})
				return
			}
			if tr, err = translate.NewResponsesStream(wd, rreq, meta); err != nil {
				fail(err)
				return
			}
			from = d
		} else if d != from {
			fail(&inference.Error{Kind: inference.KindInternal, Message: "internal error"})
			return
		}
		evs, err := tr.Next(te)
		if err != nil {
			send(evs)
			fail(backendAnswerError(err))
			return
		}
		if ev.Kind == inference.EventStop || ev.Kind == inference.EventUsage || held != nil {
			// The events that end the stream wait until the request is
			// recorded (below).
			held = dialect.CopyEvents(held, evs)
			continue
		}
		send(evs)
	}
	// Record the request (audit) before the client sees its end.
	s.Close()
	if tr == nil {
		if tr, _ = translate.NewResponsesStream(translate.OpenAI, rreq, meta); tr == nil {
			return
		}
	}
	fin, err := tr.Finish()
	if err != nil {
		fail(backendAnswerError(err))
		return
	}
	held = append(held, fin...)
	if tok := gateway.StreamReceipt(s); tok != "" {
		// The receipt rides in the response.completed event's data
		// (docs/receipts.md); clients ignore the unknown member.
		for i := range held {
			if held[i].Type == "response.completed" {
				held[i].Data = inference.AppendSetString(nil, held[i].Data, receipt.StreamField, tok)
			}
		}
	}
	send(held)
	flush()
}

// canonicalChunk encodes an event of a backend that re-encoded the
// request as a Chat Completions chunk; ok is false for events that carry
// nothing a chunk shows.
func canonicalChunk(c *chatResponse, ev *inference.Event) (translate.Event, bool) {
	if ev.Raw != nil {
		return translate.Event{}, false
	}
	empty, text := "", ev.Text
	c.Usage = nil
	switch ev.Kind {
	case inference.EventStart:
		c.Choices = []chatChoice{{Delta: &respMessage{Role: "assistant", Content: &empty}}}
	case inference.EventDelta:
		c.Choices = []chatChoice{{Delta: &respMessage{Content: &text}}}
	case inference.EventStop:
		fr := dialect.OpenAIFinishReason(ev.StopReason)
		c.Choices = []chatChoice{{Delta: &respMessage{}, FinishReason: &fr}}
	case inference.EventUsage:
		if ev.Usage == nil {
			return translate.Event{}, false
		}
		c.Choices = []chatChoice{}
		c.Usage = &chatUsage{PromptTokens: ev.Usage.InputTokens, CompletionTokens: ev.Usage.OutputTokens, TotalTokens: ev.Usage.Total()}
	default:
		return translate.Event{}, false
	}
	b, err := json.Marshal(c)
	if err != nil {
		return translate.Event{}, false
	}
	return translate.Event{Data: b}, true
}

// backendAnswerError is the in-stream error of an answer the translator
// could not turn into Responses events.
func backendAnswerError(err error) error {
	var se *translate.StreamError
	if errors.As(err, &se) {
		return &inference.Error{Kind: inference.KindUpstream, Message: dialect.MidAnswer(se), Err: err}
	}
	return &inference.Error{Kind: inference.KindUpstream, Message: "the model sent an answer that cannot be translated", Err: err}
}
