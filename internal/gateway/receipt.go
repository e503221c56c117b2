package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/receipt"
	"github.com/meridian-gateway/meridian/internal/telemetry"
)

// WantsReceipt reports whether a client asked for a residency receipt
// with the request header x-meridian-receipt: true (docs/receipts.md).
func WantsReceipt(h http.Header) bool {
	return strings.EqualFold(strings.TrimSpace(h.Get(receipt.Header)), "true")
}

// wantsReceipt reports whether call's answer carries a receipt: the client
// asked, or its principal has receipts: true in the topology.
func (g *Gateway) wantsReceipt(call *Call) bool {
	return call.Receipt || g.receiptPrincipals[call.Principal.ID]
}

// claimsOf are the claims of rec's receipt, without the answer.
func (g *Gateway) claimsOf(rec *Record, req *inference.Request) receipt.Claims {
	return receipt.Claims{RequestID: rec.RequestID, ProfileARN: rec.ProfileARN, SourceRegion: rec.SourceRegion,
		InferenceRegion: g.region, Model: rec.Model, RequestSHA256: receipt.BodyHash(req.Body),
		Usage: receipt.Usage{InputTokens: int64(rec.Usage.InputTokens), OutputTokens: int64(rec.Usage.OutputTokens)},
		Audit: receipt.AuditRef{EventID: rec.RequestID, Hash: rec.AuditHash}}
}

// issue signs c, or logs why it could not and returns "": the answer is
// served without its receipt (a client that requires one treats its
// absence as a failure).
func (g *Gateway) issue(ctx context.Context, c receipt.Claims) string {
	if g.receipts == nil {
		return ""
	}
	tok, err := g.receipts.Issue(c)
	if err != nil {
		g.log.WarnContext(ctx, "residency receipt not signed", telemetry.AttrRequestID, c.RequestID, telemetry.AttrError, err)
		return ""
	}
	return tok
}

// signResponse sets resp.Receipt for an answer served in full in this
// region. A pass-through answer is hashed as the client receives it
// (answer_form body); an answer the front end renders or translates, over
// its text (answer_form text).
func (g *Gateway) signResponse(ctx context.Context, rec *Record, op string, req *inference.Request, resp *inference.Response) {
	c := g.claimsOf(rec, req)
	if body, ok := deliveredBody(op, rec.RequestID, req, resp); ok {
		c.AnswerForm, c.AnswerSHA256 = receipt.AnswerBody, receipt.BodyHash(body)
	} else {
		h := receipt.NewAnswerHasher()
		h.WriteString(answerText(resp))
		c.AnswerForm, c.AnswerSHA256 = receipt.AnswerText, h.Sum()
	}
	resp.Receipt = g.issue(ctx, c)
}

// deliveredBody returns the body a front end sends for resp when it passes
// the upstream's answer through: the Bedrock front end writes it verbatim,
// the OpenAI one with the completion id and the model set as
// internal/api/openai does (a test there checks that the two agree).
func deliveredBody(op, requestID string, req *inference.Request, resp *inference.Response) ([]byte, bool) {
	if resp.Body == nil {
		return nil, false
	}
	switch op {
	case OpChatCompletions:
		if resp.Dialect != inference.DialectOpenAIChat {
			return nil, false
		}
		t := inference.AppendSetString(nil, resp.Body, "id", "chatcmpl-"+requestID)
		return inference.AppendSetString(nil, t, "model", req.Model), true
	case opMessages:
		if resp.Dialect != inference.DialectAnthropic {
			return nil, false
		}
		return inference.AppendSetString(nil, resp.Body, "model", req.Model), true
	case OpConverse:
		return resp.Body, resp.Dialect == inference.DialectConverse
	case OpInvokeModel:
		return resp.Body, resp.Dialect == inference.DialectAnthropic || resp.Dialect == inference.DialectInvoke
	}
	return nil, false
}

// answerText is the text a translated answer's receipt covers
// (docs/receipts.md, "Answer text"): in order, each text block's text and
// each tool call's arguments as compact JSON, like a stream's deltas.
func answerText(resp *inference.Response) string {
	if resp.Body == nil {
		return resp.Message.Text()
	}
	var b strings.Builder
	args := func(raw json.RawMessage, isString bool) {
		if isString {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return
			}
			raw = json.RawMessage(s)
		}
		var c bytes.Buffer
		if json.Compact(&c, raw) == nil {
			b.Write(c.Bytes())
		} else {
			b.Write(raw)
		}
	}
	switch resp.Dialect {
	case inference.DialectOpenAIChat:
		var r struct {
			Choices []struct {
				Message struct {
					Content   *string `json:"content"`
					ToolCalls []struct {
						Function struct {
							Arguments json.RawMessage `json:"arguments"`
						} `json:"function"`
					} `json:"tool_calls"`
				} `json:"message"`
			} `json:"choices"`
		}
		if json.Unmarshal(resp.Body, &r) != nil || len(r.Choices) == 0 {
			return resp.Text()
		}
		m := r.Choices[0].Message
		if m.Content != nil {
			b.WriteString(*m.Content)
		}
		for _, tc := range m.ToolCalls {
			if len(tc.Function.Arguments) > 0 {
				args(tc.Function.Arguments, tc.Function.Arguments[0] == '"')
			}
		}
	case inference.DialectConverse:
		var r struct {
			Output struct {
				Message struct {
					Content []struct {
						Text    string `json:"text"`
						ToolUse *struct {
							Input json.RawMessage `json:"input"`
						} `json:"toolUse"`
					} `json:"content"`
				} `json:"message"`
			} `json:"output"`
		}
		if json.Unmarshal(resp.Body, &r) != nil {
			return resp.Text()
		}
		for _, c := range r.Output.Message.Content {
			b.WriteString(c.Text)
			if c.ToolUse != nil && len(c.ToolUse.Input) > 0 {
				args(c.ToolUse.Input, false)
			}
		}
	case inference.DialectAnthropic:
		var r struct {
			Content []struct {
				Type  string          `json:"type"`
				Text  string          `json:"text"`
				Input json.RawMessage `json:"input"`
			} `json:"content"`
		}
		if json.Unmarshal(resp.Body, &r) != nil {
			return resp.Text()
		}
		for _, c := range r.Content {
			switch c.Type {
			case "text":
				b.WriteString(c.Text)
			case "tool_use":
				if len(c.Input) > 0 {
					args(c.Input, false)
				}
			}
		}
	default:
		return resp.Text()
	}
	return b.String()
}

// opMessages is the Anthropic Messages front end's operation
// (internal/api/anthropic.OpMessages), which passes an Anthropic answer
// through with the model set to the caller's.
const opMessages = "Messages"

// StreamReceipt returns the receipt of a stream the gateway returned in an
// Outcome, once it is closed: the one this node signed, or the one the
// inference region sent back over the link. "" when none was asked for or
// none could be signed.
func StreamReceipt(s inference.Stream) string {
	if rs, ok := s.(*recordingStream); ok {
		return rs.receiptToken()
	}
	return ""
}

// receiptSlot holds the receipt a forwarded stream's inference region sent
// back over the link with the stream's end.
type receiptSlot struct{ v atomic.Pointer[string] }

func (r *receiptSlot) set(token string) { r.v.Store(&token) }

func (r *receiptSlot) get() string {
	if p := r.v.Load(); p != nil {
		return *p
	}
	return ""
}

// streamReceipt is the receipt of one stream: signed here when inference
// ran in this region (over the text the stream delivered), or passed
// through from the inference region.
type streamReceipt struct {
	local     bool
	op        string
	req       *inference.Request
	hasher    *receipt.AnswerHasher
	forwarded *receiptSlot
	token     atomic.Pointer[string]
}

// streamReceipt arranges for rs to carry a receipt when job asked for one.
func (g *Gateway) streamReceipt(rs inference.Stream, job *Job, inferenceRegion string, forwarded *receiptSlot) {
	s, ok := rs.(*recordingStream)
	if !ok || !job.Receipt {
		return
	}
	sr := &streamReceipt{local: inferenceRegion == g.region, op: job.Operation, req: job.Request, forwarded: forwarded}
	if sr.local {
		sr.hasher = receipt.NewAnswerHasher()
	}
	s.receipt = sr
}

func (r *streamReceipt) see(ev *inference.Event) {
	if r.hasher != nil {
		r.hasher.WriteString(answerDelta(ev))
	}
}

// finish signs the receipt once the stream's record is written, only for a
// stream that ended normally: a stream cut short has no answer to vouch for.
func (r *streamReceipt) finish(s *recordingStream) {
	if !r.local || s.rec.ErrorCode != "" {
		return
	}
	c := s.g.claimsOf(s.rec, r.req)
	c.AnswerForm, c.AnswerSHA256 = receipt.AnswerText, r.hasher.Sum()
	tok := s.g.issue(s.ctx, c)
	r.token.Store(&tok)
}

// Receipt returns the stream's receipt once it is closed ("" if none).
func (s *recordingStream) Receipt() string { return s.receiptToken() }

func (s *recordingStream) receiptToken() string {
	r := s.receipt
	if r == nil {
		return ""
	}
	if !r.local {
		if r.forwarded == nil {
			return ""
		}
		return r.forwarded.get()
	}
	if p := r.token.Load(); p != nil {
		return *p
	}
	return ""
}

// answerDelta is the text a stream event adds to the answer a receipt
// covers (docs/receipts.md, "Streams"): its content text and, for a raw
// event, the tool-call arguments it carries.
func answerDelta(ev *inference.Event) string {
	t := ev.DeltaText()
	if ev.Raw == nil {
		return t
	}
	var key string
	switch ev.Dialect {
	case inference.DialectOpenAIChat:
		key = `"arguments":`
	case inference.DialectConverse:
		key = `"input":`
	case inference.DialectAnthropic:
		key = `"partial_json":`
	default:
		return t
	}
	s := inference.StringAfter(ev.Raw, key)
	if s == nil {
		return t
	}
	return t + jsonUnquote(s)
}

// jsonUnquote decodes the content of a JSON string (as StringAfter returns
// it), or returns it as is when it does not decode.
func jsonUnquote(s []byte) string {
	if bytes.IndexByte(s, '\\') < 0 {
		return string(s)
	}
	var out string
	if json.Unmarshal(append(append([]byte{'"'}, s...), '"'), &out) != nil {
		return string(s)
	}
	return out
}
