package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dialect"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
	"github.com/meridian-gateway/meridian/internal/receipt"
	schema "github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/schema/jsonx"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// Operations, as request records, audit events and metrics name them.
const (
	OpMessages    = "Messages"
	OpCountTokens = "CountTokens"
)

// bedrockMetrics is the member Bedrock adds to the message_stop event.
const bedrockMetrics = "amazon-bedrock-invocationMetrics"

// maxBetas bounds the anthropic-beta values a request may carry.
const maxBetas = 32

// Options configure the front end.
type Options struct {
	// MaxRequestBytes bounds request bodies (413 beyond). If zero, 4 MiB.
	MaxRequestBytes int64
	// Clock tells the time (request receipt, rate-limit headers). If nil,
	// clock.Wall.
	Clock clock.Clock
}

// Handler serves the Anthropic Messages API for one gateway.
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

// Register adds the front end's routes to mux. Other paths under
// /v1/messages are answered by [NotFound] (the node routes them).
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/messages", h.messages)
	mux.HandleFunc("POST /v1/messages/count_tokens", h.countTokens)
}

func (h *Handler) call(w http.ResponseWriter, r *http.Request, op string) *gateway.Call {
	call := gateway.NewCall(r, op, h.opts.Clock.Now())
	w.Header().Set(gateway.HeaderRequestID, call.RequestID)
	w.Header().Set(HeaderRequestID, call.RequestID)
	w.Header().Set(gateway.HeaderSourceRegion, h.g.Region())
	return call
}

// begin authenticates (before the body is read: the listener's limits on
// unauthenticated work rely on it), then reads and peeks at the body. It
// renders the error and returns nil on failure.
func (h *Handler) begin(w http.ResponseWriter, r *http.Request, call *gateway.Call) *inference.Request {
	body, rerr := h.g.ReadAuthenticated(w, r, call, h.opts.MaxRequestBytes)
	if rerr != nil {
		h.reject(w, r, call, keyHint(rerr))
		return nil
	}
	if call.Operation == OpCountTokens {
		// A count_tokens body is a Messages body without max_tokens.
		var err error
		if body, err = setMaxTokens(body); err != nil {
			h.reject(w, r, call, err)
			return nil
		}
	}
	req, err := decode(r.Header, body, h.g.Catalog(), h.g.Region())
	call.Request = req
	if err != nil {
		h.reject(w, r, call, err)
		return nil
	}
	return req
}

// missingKey is this API's answer to a request without credentials: the
// gateway's names "Authorization: Bearer", which /v1/messages also takes
// (internal/auth, apikey.go), but Anthropic's SDKs send their key as
// x-api-key.
const missingKey = `missing credentials: send an API key as "x-api-key: <key>" (or "Authorization: Bearer <key>")`

// keyHint names x-api-key in a refusal for missing credentials.
func keyHint(e *inference.Error) *inference.Error {
	if e.Kind == inference.KindUnauthenticated && e.Message == auth.ErrMissingCredentials.Error() {
		c := *e
		c.Message = missingKey
		return &c
	}
	return e
}

func (h *Handler) reject(w http.ResponseWriter, r *http.Request, call *gateway.Call, err error) {
	writeError(w, h.g.Reject(r.Context(), call, err), h.opts.Clock.Now())
}

// decode turns a /v1/messages body into a request in the Anthropic
// Messages dialect of InvokeModel: model and stream move out of the body,
// anthropic_version is set, the anthropic-beta header becomes
// anthropic_beta, and inference_geo is decided (InferenceGeo: model
// resolved in cat from source). The returned request is never nil.
func decode(hdr http.Header, body []byte, cat *profile.Catalog, source string) (*inference.Request, error) {
	if ct := hdr.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "application/json") {
		return &inference.Request{Dialect: inference.DialectAnthropic}, inference.Invalid("", "Content-Type must be application/json")
	}
	p, err := schema.Peek(body)
	if err != nil {
		return &inference.Request{Dialect: inference.DialectAnthropic}, inference.Invalid("", "the request body is not a valid JSON object: "+inference.Clip(err.Error(), 2*inference.EchoLimit))
	}
	req := &inference.Request{Model: p.Model, Dialect: inference.DialectAnthropic, Stream: p.Stream}
	switch {
	case p.Model == "":
		return req, inference.Invalid("model", "model: Field required (a profile id, profile ARN or model id)")
	case len(p.Model) > inference.MaxModelBytes:
		req.Model = inference.Clip(p.Model, inference.EchoLimit)
		return req, inference.Invalid("model", "model is longer than the longest profile ARN")
	case p.AnthropicVersion != "":
		return req, inference.Invalid("anthropic_version", "anthropic_version: Extra inputs are not permitted (send the anthropic-version header)")
	}
	if err := CheckHeaders(hdr); err != nil {
		return req, err
	}
	out, err := schema.ToBedrockBody(body)
	var ae *jsonx.AmbiguousError
	switch {
	case errors.As(err, &ae):
		return req, inference.Invalid(ae.Member, ae.Error())
	case err != nil:
		return req, inference.Invalid("", "the request body is not a valid JSON object")
	}
	if out, err = InferenceGeo(cat, source, p.Model, out); err != nil {
		return req, err
	}
	betas, berr := betaHeader(hdr)
	if berr != nil {
		return req, berr
	}
	if len(betas) > 0 {
		if inference.Field(out, "anthropic_beta") != nil {
			return req, inference.Invalid("anthropic_beta", "anthropic_beta: Extra inputs are not permitted (send the anthropic-beta header)")
		}
		raw, _ := json.Marshal(betas)
		out = inference.AppendSetField(nil, out, "anthropic_beta", raw)
	}
	return inference.Peek(inference.DialectAnthropic, p.Model, out, p.Stream)
}

// knownHeaders are the anthropic-* request headers /v1/messages takes, by
// canonical name, with what becomes of each: anthropic-version is
// accepted whatever it says (one version of the API is served),
// anthropic-beta becomes the body's anthropic_beta, and
// anthropic-dangerous-direct-browser-access, which @anthropic-ai/sdk sends
// with dangerouslyAllowBrowser, only lets a browser call Anthropic across
// origins: it asks the model for nothing.
var knownHeaders = map[string]bool{
	"Anthropic-Version":                         true,
	"Anthropic-Beta":                            true,
	"Anthropic-Dangerous-Direct-Browser-Access": true,
}

// headerWhy says why a known anthropic-* header that asks for something
// Meridian cannot give is refused; any other is refused as unknown.
var headerWhy = map[string]string{
	// anthropic-sdk-go's MessageNewParams.UserProfileID.
	"Anthropic-User-Profile-Id": "user profiles are Anthropic's own API's; no deployment behind this gateway can attach a request to one",
	// MessageNewParams.WorkspaceID, and a profile's workspace_id.
	"Anthropic-Workspace-Id": "workspaces are Anthropic's own API's; this gateway scopes a request by its API key, not by a workspace",
}

// CheckHeaders refuses a request with an anthropic-* header that
// /v1/messages does not take, naming it (docs/architecture.md, invariant
// 6: a header the caller sent is never dropped unread). The known ones are
// knownHeaders. Other headers (x-stainless-*, user-agent...) describe the
// client and are not Anthropic's API.
func CheckHeaders(hdr http.Header) error {
	first := ""
	for name := range hdr {
		c := http.CanonicalHeaderKey(name)
		if strings.HasPrefix(c, "Anthropic-") && !knownHeaders[c] && (first == "" || c < first) {
			first = c // the same one named whatever the map's order
		}
	}
	if first == "" {
		return nil
	}
	n := strings.ToLower(inference.Clip(first, inference.EchoLimit))
	why := headerWhy[first]
	if why == "" {
		why = "not a header this gateway knows; leave it out"
	}
	return inference.Invalid(n, n+": header not supported ("+why+")")
}

// betaHeader returns the anthropic-beta values (comma-separated, one or
// more headers).
func betaHeader(hdr http.Header) ([]string, error) {
	var out []string
	for _, v := range hdr.Values("Anthropic-Beta") {
		for _, b := range strings.Split(v, ",") {
			b = strings.TrimSpace(b)
			if b == "" {
				continue
			}
			if len(b) > 128 || len(out) == maxBetas {
				return nil, inference.Invalid("anthropic-beta", "anthropic-beta: at most "+itoa(maxBetas)+" values of at most 128 bytes each")
			}
			out = append(out, b)
		}
	}
	return out, nil
}

func (h *Handler) messages(w http.ResponseWriter, r *http.Request) {
	call := h.call(w, r, OpMessages)
	call.Receipt = gateway.WantsReceipt(r.Header)
	req := h.begin(w, r, call)
	if req == nil {
		return
	}
	out, err := h.g.Invoke(r.Context(), call)
	if err != nil {
		writeError(w, inference.AsError(err), h.opts.Clock.Now())
		return
	}
	gateway.SetOutcomeHeaders(w.Header(), out)
	rateHeaders(w.Header(), h.opts.Clock.Now())
	if out.Stream != nil {
		h.writeStream(w, call, req, out)
		return
	}
	resp := out.Response
	id := messageID(call.RequestID)
	var b []byte
	switch {
	case resp.Body != nil && resp.Dialect == inference.DialectAnthropic:
		b = inference.AppendSetString(nil, resp.Body, "model", req.Model)
	case resp.Body != nil:
		meta := translate.ResponseMeta{ID: id, Model: req.Model, StopSequences: translate.AnthropicStopSequences(req.Body)}
		if b, err = dialect.TranslateResponse(resp, inference.DialectAnthropic, meta); err != nil {
			writeError(w, inference.AsError(err), h.opts.Clock.Now())
			return
		}
	default:
		b, _ = json.Marshal(dialect.AnthropicResponse(id, req.Model, resp))
	}
	if resp.Receipt != "" {
		w.Header().Set(receipt.Header, resp.Receipt)
	}
	writeJSON(w, http.StatusOK, b)
}

// setMaxTokens gives a count_tokens body the max_tokens that the Messages
// dialect requires, when it has none.
func setMaxTokens(body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 || bytes.TrimSpace(body)[0] != '{' {
		return body, inference.Invalid("", "the request body must be a JSON object")
	}
	if inference.Field(body, "max_tokens") != nil {
		return body, inference.Invalid("max_tokens", "max_tokens: Extra inputs are not permitted")
	}
	return inference.AppendSetField(nil, body, "max_tokens", []byte("1")), nil
}

func messageID(requestID string) string { return "msg_" + requestID }

// countTokens answers {"input_tokens": N} with the gateway's estimate of
// the prompt's tokens (the length-based estimate that quotas reserve), not
// a tokenizer's count. It authenticates, validates, resolves the model and
// authorizes like a Messages request, and reaches no backend: no quota is
// charged.
func (h *Handler) countTokens(w http.ResponseWriter, r *http.Request) {
	call := h.call(w, r, OpCountTokens)
	req := h.begin(w, r, call)
	if req == nil {
		return
	}
	if err := h.g.Authorize(r.Context(), call); err != nil {
		writeError(w, err, h.opts.Clock.Now())
		return
	}
	b, _ := json.Marshal(struct {
		InputTokens int `json:"input_tokens"`
	}{req.EstimatedInputTokens()})
	writeJSON(w, http.StatusOK, b)
}

// NotFound answers a request for a path under /v1/messages that is not
// served (404 not_found_error) or, when allow lists the methods it is
// served with, for another method (405 invalid_request_error).
func NotFound(w http.ResponseWriter, r *http.Request, allow []string) {
	id := w.Header().Get(gateway.HeaderRequestID) // the node's, when it recorded the request
	if id == "" {
		id = newRequestID()
	}
	w.Header().Set(gateway.HeaderRequestID, id)
	w.Header().Set(HeaderRequestID, id)
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, errorJSON(&inference.Error{Kind: inference.KindInvalidRequest,
			Message: "Method " + inference.Clip(r.Method, 16) + " is not allowed on " + inference.Clip(r.URL.Path, inference.EchoLimit) + "; use " + strings.Join(allow, " or ")}, id))
		return
	}
	writeJSON(w, http.StatusNotFound, errorJSON(&inference.Error{Kind: inference.KindNotFound,
		Message: "Not found: " + inference.Clip(r.Method, 16) + " " + inference.Clip(r.URL.Path, inference.EchoLimit) + PathHint(r.URL.Path)}, id))
}

// PathHint names the base-URL mistake an unserved path of an Anthropic
// client shows, as a sentence to append to a 404's message, or "". The
// Anthropic SDKs disagree on the base URL: @anthropic-ai/sdk and
// anthropic-sdk-go append /v1/messages (base URL without /v1), while
// others, such as @ai-sdk/anthropic, append /messages (base URL ending
// with /v1).
func PathHint(path string) string {
	switch {
	case strings.HasPrefix(path, "/v1/v1/"):
		return "; the path repeats /v1: Meridian serves the Anthropic API at /v1/messages, so drop the /v1 that ends the client's base URL (this client appends /v1 itself)"
	case path == "/messages" || strings.HasPrefix(path, "/messages/"):
		return "; Meridian serves the Anthropic API at /v1/messages: end the client's base URL with /v1 (this client appends /messages)"
	}
	return ""
}

// writeStream relays a stream as Anthropic's server-sent events.
func (h *Handler) writeStream(w http.ResponseWriter, call *gateway.Call, req *inference.Request, out *gateway.Outcome) {
	s := out.Stream
	defer s.Close()
	// Events are written to bw as they come and flushed before a Recv
	// that may wait (es.FlushIdle).
	es := gateway.StartEventStream(w)
	bw, flush := es.W, es.Flush
	send := func(name string, data []byte) {
		bw.WriteString("event: ")
		bw.WriteString(name)
		bw.WriteString("\ndata: ")
		bw.Write(data)
		bw.WriteString("\n\n")
	}
	inStreamError := func(err error) {
		// After the first byte an error is reported in-stream, never
		// retried (invariant 3).
		send("error", errorJSON(inference.AsError(err), ""))
		flush()
	}
	id := messageID(call.RequestID)
	meta := translate.ResponseMeta{ID: id, Model: req.Model, StopSequences: translate.AnthropicStopSequences(req.Body)}
	var tr *dialect.StreamTranslator
	var held []translate.Event
	var buf []byte
	sc := newSynth(id, req)
	pinged, passed := false, false
	// relay sends one event, and a ping after message_start as Anthropic
	// does.
	relay := func(name string, data []byte) {
		send(name, data)
		if name == "message_start" && !pinged {
			pinged = true
			send("ping", []byte(`{"type": "ping"}`))
		}
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
		ending := ev.Kind == inference.EventStop || ev.Kind == inference.EventUsage || held != nil
		switch {
		case ev.Raw != nil && ev.Dialect == inference.DialectAnthropic:
			// Pass-through: each event as the model sent it; the ones
			// that end the stream wait for the record.
			passed = true
			name := eventName(ev.Raw)
			data := ev.Raw
			switch name {
			case "message_start":
				buf = setMessageModel(buf[:0], data, req.Model)
				data = buf
			case "message_stop":
				// Bedrock's metrics are not Anthropic's API.
				if inference.Field(data, bedrockMetrics) != nil {
					if d, err := jsonx.DeleteMember(data, bedrockMetrics); err == nil {
						data = d
					}
				}
			}
			if ending {
				held = append(held, translate.Event{Type: name, Data: append([]byte(nil), data...)})
				continue
			}
			relay(name, data)
		case ev.Raw != nil:
			if tr == nil {
				if tr, err = dialect.NewStreamTranslator(ev.Dialect, inference.DialectAnthropic, meta); err != nil {
					inStreamError(err)
					return
				}
			}
			outs, err := tr.Next(&ev)
			if err != nil {
				inStreamError(err)
				return
			}
			if ending {
				held = dialect.CopyEvents(held, outs)
				continue
			}
			for _, o := range outs {
				relay(eventType(o), o.Data)
			}
		default:
			for _, o := range sc.next(&ev) {
				relay(o.Type, o.Data)
			}
		}
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
		held = append(held, fin...)
	}
	if tr == nil && !passed {
		held = sc.finish()
	}
	if tok := gateway.StreamReceipt(s); tok != "" {
		// The receipt rides in the message_stop event's data
		// (docs/receipts.md); clients ignore the unknown member.
		for i := range held {
			if eventType(held[i]) == "message_stop" {
				held[i] = translate.Event{Type: "message_stop", Data: inference.AppendSetString(nil, held[i].Data, receipt.StreamField, tok)}
			}
		}
	}
	for _, o := range held {
		relay(eventType(o), o.Data)
	}
	flush()
}

// eventType is a translated event's name: its Type, or the type member of
// its data.
func eventType(e translate.Event) string {
	if e.Type != "" {
		return e.Type
	}
	return eventName(e.Data)
}

// eventName reads an Anthropic event's type member.
func eventName(raw []byte) string {
	var v struct {
		Type string `json:"type"`
	}
	if s := inference.Field(raw, "type"); s != nil {
		json.Unmarshal(s, &v.Type)
	}
	if v.Type == "" || len(v.Type) > 64 || strings.ContainsAny(v.Type, "\r\n") {
		return "message"
	}
	return v.Type
}

// setMessageModel sets message.model in a message_start event to model.
func setMessageModel(dst, raw []byte, model string) []byte {
	m := inference.Field(raw, "message")
	if m == nil || m[0] != '{' {
		return append(dst, raw...)
	}
	nm := inference.AppendSetString(nil, m, "model", model)
	return inference.AppendSetField(dst, raw, "message", nm)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
