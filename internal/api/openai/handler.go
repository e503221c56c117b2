package openai

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// Options configure the front end.
type Options struct {
	// MaxRequestBytes bounds request bodies (413 beyond). If zero, 4 MiB.
	MaxRequestBytes int64
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
	return &Handler{g: g, opts: opts}
}

// Register adds the front end's routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/models", h.models)
	mux.HandleFunc("POST /v1/chat/completions", h.chatCompletions)
}

func (h *Handler) call(r *http.Request, op string) *gateway.Call {
	return &gateway.Call{RequestID: telemetry.NewRequestID(), Operation: op, SourceIP: gateway.ClientIP(r),
		UserAgent: r.UserAgent(), SecureTransport: r.TLS != nil, Received: time.Now(), MaxQueueWait: gateway.MaxQueueWait(r.Header)}
}

func (h *Handler) authenticate(r *http.Request) (auth.Principal, error) {
	p, err := h.g.Authenticator().Request(r)
	if err != nil {
		return p, &inference.Error{Kind: inference.KindUnauthenticated, Code: "invalid_api_key", Message: err.Error()}
	}
	return p, nil
}

func (h *Handler) models(w http.ResponseWriter, r *http.Request) {
	call := h.call(r, gateway.OpListModels)
	w.Header().Set(gateway.HeaderRequestID, call.RequestID)
	if _, err := h.authenticate(r); err != nil {
		writeError(w, h.g.Reject(r.Context(), call, err))
		return
	}
	cat := h.g.Catalog()
	list := modelList{Object: "list", Data: []modelEntry{}}
	for _, pr := range cat.CallableFrom(h.g.Region()) {
		// A profile without a creation time (zero time) reports 0.
		list.Data = append(list.Data, modelEntry{ID: pr.ID, Object: "model", Created: max(pr.CreatedAt.Unix(), 0), OwnedBy: "meridian"})
	}
	for _, d := range h.g.Config().DeploymentsIn(h.g.Region()) {
		list.Data = append(list.Data, modelEntry{ID: d.Model, Object: "model", OwnedBy: "meridian"})
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *Handler) chatCompletions(w http.ResponseWriter, r *http.Request) {
	call := h.call(r, gateway.OpChatCompletions)
	w.Header().Set(gateway.HeaderRequestID, call.RequestID)
	w.Header().Set(gateway.HeaderSourceRegion, h.g.Region())
	p, err := h.authenticate(r)
	if err != nil {
		writeError(w, h.g.Reject(r.Context(), call, err))
		return
	}
	call.Principal = p
	body, rerr := gateway.ReadBody(w, r, h.opts.MaxRequestBytes)
	if rerr != nil {
		if rerr.Kind == inference.KindPayloadTooLarge {
			rerr.Code = "request_too_large"
		}
		writeError(w, h.g.Reject(r.Context(), call, rerr))
		return
	}
	call.ServiceTier = gateway.ReadServiceTier(r.Header, body)
	req, includeUsage, err := decodeChat(body)
	if err != nil {
		call.Request = req
		writeError(w, h.g.Reject(r.Context(), call, err))
		return
	}
	call.Request = req
	out, err := h.g.Invoke(r.Context(), call)
	if err != nil {
		writeError(w, inference.AsError(err))
		return
	}
	out.Route.SetHeaders(w.Header())
	for k, v := range out.Header {
		w.Header()[k] = v
	}
	if out.Stream != nil {
		h.writeStream(w, r, req, out, includeUsage)
		return
	}
	writeJSON(w, http.StatusOK, responseBody(call.RequestID, req.Model, out.Response))
}

// maxModelBytes bounds the model field: the longest ARN is far shorter.
const maxModelBytes = 2048

// decodeChat validates an OpenAI request body and translates it.
func decodeChat(body []byte) (*inference.Request, bool, error) {
	var cr chatRequest
	if err := json.Unmarshal(body, &cr); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			// Valid JSON with a field of the wrong type (or a number out
			// of range): name the field.
			if te.Field == "" {
				return nil, false, invalid("", typeProblem("the request body", te))
			}
			field := inference.Clip(te.Field, inference.EchoLimit)
			return nil, false, invalid(field, typeProblem(field, te))
		}
		return nil, false, invalid("", "request body is not valid JSON: "+jsonProblem(err))
	}
	req := &inference.Request{Model: cr.Model, Temperature: cr.Temperature, TopP: cr.TopP, Seed: cr.Seed, User: cr.User, Stream: cr.Stream}
	switch {
	case cr.Model == "":
		return req, false, invalid("model", "you must provide a model: an inference profile id (e.g. eu.demo.chat-small), a profile ARN or a model id")
	case len(cr.Model) > maxModelBytes:
		return req, false, invalid("model", "model is "+strconv.Itoa(len(cr.Model))+" bytes long; a profile id, profile ARN or model id is at most "+strconv.Itoa(maxModelBytes))
	case len(cr.Messages) == 0:
		return req, false, invalid("messages", "messages must be a non-empty array")
	case cr.N != nil && *cr.N != 1:
		return req, false, invalid("n", "only n=1 is supported")
	case len(cr.Tools) > 0 && string(cr.Tools) != "null" && string(cr.Tools) != "[]",
		len(cr.Functions) > 0 && string(cr.Functions) != "null" && string(cr.Functions) != "[]":
		return req, false, invalid("tools", "tool calling is not supported by this gateway yet")
	case cr.Temperature != nil && (*cr.Temperature < 0 || *cr.Temperature > 2):
		return req, false, invalid("temperature", "temperature must be between 0 and 2")
	case cr.TopP != nil && (*cr.TopP < 0 || *cr.TopP > 1):
		return req, false, invalid("top_p", "top_p must be between 0 and 1")
	}
	switch {
	case cr.MaxCompletionTokens != nil:
		req.MaxTokens, req.MaxTokensParam = *cr.MaxCompletionTokens, "max_completion_tokens"
	case cr.MaxTokens != nil:
		req.MaxTokens, req.MaxTokensParam = *cr.MaxTokens, "max_tokens"
	}
	// The upper bound (the model's context window) is the gateway's check,
	// once the model is resolved.
	if req.MaxTokens < 0 {
		return req, false, invalid(req.MaxTokensParam, req.MaxTokensParam+" must not be negative")
	}
	stop, err := stops(cr.Stop)
	if err != nil {
		return req, false, invalid("stop", err.Error())
	}
	req.Stop = stop
	for i, m := range cr.Messages {
		var role inference.Role
		switch m.Role {
		case "system", "developer":
			role = inference.RoleSystem
		case "user":
			role = inference.RoleUser
		case "assistant":
			role = inference.RoleAssistant
		default:
			return req, false, invalid("messages["+strconv.Itoa(i)+"].role", "role "+strconv.Quote(inference.Clip(m.Role, inference.EchoLimit))+" is not supported (use system, developer, user or assistant)")
		}
		text, err := m.text()
		if err != nil {
			return req, false, invalid("messages["+strconv.Itoa(i)+"].content", err.Error())
		}
		req.Messages = append(req.Messages, inference.TextMessage(role, text))
	}
	includeUsage := cr.StreamOptions != nil && cr.StreamOptions.IncludeUsage
	return req, includeUsage, nil
}

// jsonProblem describes a syntax error, or any other decoding error
// clipped.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return err.Error() + " at byte " + strconv.FormatInt(se.Offset, 10)
	}
	return inference.Clip(err.Error(), 2*inference.EchoLimit)
}

// typeProblem says what field should have been, without the caller's
// literal (te.Value is "number 1e400", with the number in full).
func typeProblem(field string, te *json.UnmarshalTypeError) string {
	got, _, _ := strings.Cut(te.Value, " ")
	return field + " must be " + jsonType(te.Type.Kind().String()) + ", not " + inference.Clip(got, 16)
}

// jsonType names a Go kind in JSON's words.
func jsonType(kind string) string {
	switch kind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer in range"
	case "float32", "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}

func invalid(param, msg string) *inference.Error {
	return &inference.Error{Kind: inference.KindInvalidRequest, Message: msg, Param: param}
}

func finishReason(s inference.StopReason) string {
	switch s {
	case inference.StopMaxTokens:
		return "length"
	case inference.StopContentFiltered:
		return "content_filter"
	}
	return "stop"
}

func completionID(requestID string) string { return "chatcmpl-" + requestID }

func responseBody(requestID, model string, resp *inference.Response) chatResponse {
	text := resp.Message.Text()
	fr := finishReason(resp.StopReason)
	return chatResponse{
		ID: completionID(requestID), Object: "chat.completion", Created: time.Now().Unix(), Model: model,
		Choices: []chatChoice{{Index: 0, Message: &respMessage{Role: "assistant", Content: &text}, FinishReason: &fr}},
		Usage:   &chatUsage{PromptTokens: resp.Usage.InputTokens, CompletionTokens: resp.Usage.OutputTokens, TotalTokens: resp.Usage.Total()},
	}
}

// writeStream relays a stream as OpenAI chat.completion.chunk events.
func (h *Handler) writeStream(w http.ResponseWriter, r *http.Request, req *inference.Request, out *gateway.Outcome, includeUsage bool) {
	s := out.Stream
	defer s.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 4096)
	id, created := completionID(out.Route.RequestID), time.Now().Unix()
	chunk := chatResponse{ID: id, Object: "chat.completion.chunk", Created: created, Model: req.Model}
	// One chunk, choice and delta serve every event, and the encoder writes
	// straight into bw: a token costs no allocation (issue 10). Encode
	// produces json.Marshal's bytes followed by "\n".
	enc := json.NewEncoder(bw)
	var choice [1]chatChoice
	var delta respMessage
	var text, fr string
	send := func(c *chatResponse) bool {
		bw.WriteString("data: ")
		enc.Encode(c)
		bw.WriteString("\n")
		if bw.Flush() != nil || rc.Flush() != nil {
			return false
		}
		return true
	}
	empty := ""
	var usage *inference.Usage
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// After the first byte an error is reported in-stream, never
			// retried (invariant 3).
			e := inference.AsError(err)
			b, _ := json.Marshal(errorBody{Error: detail(e)})
			bw.WriteString("data: ")
			bw.Write(b)
			bw.WriteString("\n\n")
			bw.Flush()
			rc.Flush()
			return
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
			fr = finishReason(ev.StopReason)
			delta = respMessage{}
			choice[0] = chatChoice{Delta: &delta, FinishReason: &fr}
		case inference.EventUsage:
			usage = ev.Usage
			continue
		default:
			continue
		}
		chunk.Choices = choice[:]
		if !send(&chunk) {
			return // client went away; Close cancels the backend call
		}
	}
	// Record the request (audit) before the client sees its end: a node
	// that dies after this loses no answered request's event.
	s.Close()
	if includeUsage && usage != nil {
		chunk.Choices = choice[:0]
		chunk.Usage = &chatUsage{PromptTokens: usage.InputTokens, CompletionTokens: usage.OutputTokens, TotalTokens: usage.Total()}
		if !send(&chunk) {
			return
		}
	}
	bw.WriteString("data: [DONE]\n\n")
	bw.Flush()
	rc.Flush()
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
