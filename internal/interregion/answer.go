package interregion

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/receipt"
)

// ContentTypeAnswer is the media type of a forwarded non-streaming answer
// in the answer form: the upstream's answer bytes ([inference.Response]
// Body) as the HTTP body, verbatim (no JSON, no base64), and the rest of
// the Response in the headers Meridian-Answer and (for a residency
// receipt) Meridian-Answer-Receipt. A source advertises it in
// Accept, after which a destination that knows it answers in it when the
// Response has a Body it can carry so; any other answer is the Response as
// JSON (application/json), which every node reads and writes. The format is
// described in doc.go.
const ContentTypeAnswer = "application/vnd.meridian.answer.v1"

// acceptAnswer is the Accept header of a forwarded non-streaming request:
// the answer form preferred, JSON as before (and for errors).
const acceptAnswer = ContentTypeAnswer + ", application/json; q=0.5"

// The headers of the answer form. headerAnswer carries the Response's
// metadata in one value (one header field costs HTTP/2 a few allocations
// at each end, so one field, not one per member):
//
//	dialect=<name>[;id=<text>][;model=<text>][;stop=<stop reason>];usage=<n>,<n>,<n>,<n>;latency=<n>
//
// in this order, without white space: the dialect's name, the upstream's
// id and model (when not empty), the stop reason (when set), the input,
// output, cache-read and cache-write token counts, and the latency in
// nanoseconds. headerAnswerReceipt carries the residency receipt, when the
// source asked for one.
const (
	headerAnswer        = "Meridian-Answer"
	headerAnswerReceipt = "Meridian-Answer-Receipt"
)

// maxAnswerMeta bounds headerAnswer: two texts of maxAnswerText and the
// rest.
const maxAnswerMeta = 2*maxAnswerText + 256

// maxAnswerBytes bounds the body of the answer form: the largest answer a
// backend reads from an upstream for pass-through (64 MiB). A destination
// sends a larger one as JSON, which the source reads as it always has.
const maxAnswerBytes = 64 << 20

// maxAnswerText bounds the id and model; an upstream's are far shorter,
// and a longer one goes as JSON.
const maxAnswerText = 1024

// maxCount bounds the digits of a usage count or a latency: 19 is the most
// an int64 has.
const maxCount = 19

// isAnswer reports whether a Content-Type is ContentTypeAnswer.
func isAnswer(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), ContentTypeAnswer)
}

// writeAnswer writes a non-streaming answer: in the answer form when the
// source asked for it (answerForm) and resp can go in it, else as the JSON
// of nodes from before it.
func writeAnswer(w http.ResponseWriter, resp *inference.Response, answerForm bool) {
	h := w.Header()
	if answerForm && answerFits(resp) {
		setAnswerHeaders(h, resp)
		w.WriteHeader(http.StatusOK)
		w.Write(resp.Body)
		return
	}
	h.Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// answerFits reports whether resp reads back from the answer form exactly as
// from its JSON: a pass-through Body (a Response with a canonical Message
// stays JSON) and metadata that the headers' strict grammar takes. What
// does not fit is rare (an upstream id with non-ASCII characters, say) and
// goes as JSON rather than be changed.
func answerFits(resp *inference.Response) bool {
	if resp == nil || len(resp.Body) == 0 || len(resp.Body) > maxAnswerBytes ||
		resp.Message.Role != "" || resp.Message.Content != nil {
		return false
	}
	if _, ok := inference.ParseDialect(resp.Dialect.String()); !ok {
		return false
	}
	u := resp.Usage
	return knownStopReason(resp.StopReason) && validText(resp.ID) && validText(resp.Model) && validReceipt(resp.Receipt) &&
		u.InputTokens >= 0 && u.OutputTokens >= 0 && u.CacheReadInputTokens >= 0 && u.CacheWriteInputTokens >= 0 &&
		resp.Latency >= 0
}

// setAnswerHeaders sets the answer form's headers of resp, which fits:
// Content-Type, Content-Length, headerAnswer and (when set)
// headerAnswerReceipt.
func setAnswerHeaders(h http.Header, resp *inference.Response) {
	// The metadata and the length are written into one string, and the
	// values share one backing array: two allocations for all the
	// headers.
	var buf [256]byte
	b := append(buf[:0], "dialect="...)
	b = append(b, resp.Dialect.String()...)
	if resp.ID != "" {
		b = append(append(b, ";id="...), resp.ID...)
	}
	if resp.Model != "" {
		b = append(append(b, ";model="...), resp.Model...)
	}
	if resp.StopReason != "" {
		b = append(append(b, ";stop="...), resp.StopReason...)
	}
	b = append(b, ";usage="...)
	b = strconv.AppendInt(b, int64(resp.Usage.InputTokens), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(resp.Usage.OutputTokens), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(resp.Usage.CacheReadInputTokens), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(resp.Usage.CacheWriteInputTokens), 10)
	b = append(b, ";latency="...)
	b = strconv.AppendInt(b, int64(resp.Latency), 10)
	metaEnd := len(b)
	b = strconv.AppendInt(b, int64(len(resp.Body)), 10)
	text := string(b)

	vals := make([]string, 0, 4)
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	set("Content-Type", ContentTypeAnswer)
	set("Content-Length", text[metaEnd:])
	set(headerAnswer, text[:metaEnd])
	if resp.Receipt != "" {
		set(headerAnswerReceipt, resp.Receipt)
	}
}

// errMalformedAnswer is the cause of an answer form that does not parse.
var errMalformedAnswer = errors.New("malformed answer")

// parseAnswerHeaders reads the Response of an answer form, but its Body,
// from its headers. It is strict: each header once at most and never
// empty, headerAnswer exactly in the form setAnswerHeaders writes (its
// members in order, each once, nothing else), a known dialect and stop
// reason, counts as strconv writes them, an id and model of printable
// ASCII without ';' of bounded length, and a receipt of
// receipt.MaxTokenBytes at most in the JWS alphabet. Other headers are
// not its business and are ignored.
func parseAnswerHeaders(h http.Header) (inference.Response, error) {
	v, err := answerHeader(h, headerAnswer, true)
	if err != nil {
		return inference.Response{}, err
	}
	out, err := parseAnswerMeta(v)
	if err != nil {
		return inference.Response{}, err
	}
	if v, err = answerHeader(h, headerAnswerReceipt, false); err != nil {
		return inference.Response{}, err
	}
	if !validReceipt(v) {
		return inference.Response{}, fmt.Errorf("%w: receipt of %d bytes is not a JWS of at most %d", errMalformedAnswer, len(v), receipt.MaxTokenBytes)
	}
	out.Receipt = v
	return out, nil
}

// answerHeader returns the one value of the header k ("" when absent and
// not required).
func answerHeader(h http.Header, k string, required bool) (string, error) {
	vs := h[k]
	switch {
	case len(vs) > 1:
		return "", fmt.Errorf("%w: %s sent %d times", errMalformedAnswer, k, len(vs))
	case len(vs) == 1 && vs[0] == "":
		return "", fmt.Errorf("%w: %s is empty", errMalformedAnswer, k)
	case len(vs) == 0 && required:
		return "", fmt.Errorf("%w: %s is missing", errMalformedAnswer, k)
	case len(vs) == 0:
		return "", nil
	}
	return vs[0], nil
}

// metaReader reads the members of headerAnswer in order.
type metaReader struct{ rest string }

// member returns the value of the member name if it comes next (and
// consumes it), or ok false. A value is never empty and ends at the next
// ';', which must then be followed by another member.
func (m *metaReader) member(name string) (v string, ok bool) {
	if len(m.rest) <= len(name) || m.rest[len(name)] != '=' || m.rest[:len(name)] != name {
		return "", false
	}
	v = m.rest[len(name)+1:]
	rest := ""
	if end := strings.IndexByte(v, ';'); end >= 0 {
		v, rest = v[:end], v[end+1:]
		if rest == "" {
			return "", false
		}
	}
	if v == "" {
		return "", false
	}
	m.rest = rest
	return v, true
}

// parseAnswerMeta reads headerAnswer's value.
func parseAnswerMeta(v string) (inference.Response, error) {
	malformed := func(what string) error {
		return fmt.Errorf("%w: %s in %s %.32q", errMalformedAnswer, what, headerAnswer, v)
	}
	if len(v) > maxAnswerMeta {
		return inference.Response{}, fmt.Errorf("%w: %s of %d bytes exceeds %d", errMalformedAnswer, headerAnswer, len(v), maxAnswerMeta)
	}
	var out inference.Response
	m := metaReader{rest: v}
	name, ok := m.member("dialect")
	if !ok {
		return inference.Response{}, malformed("no dialect")
	}
	if out.Dialect, ok = inference.ParseDialect(name); !ok {
		return inference.Response{}, malformed("unknown dialect")
	}
	if id, ok := m.member("id"); ok {
		if !validText(id) {
			return inference.Response{}, malformed("id not printable ASCII of at most 1024 bytes")
		}
		out.ID = id
	}
	if model, ok := m.member("model"); ok {
		if !validText(model) {
			return inference.Response{}, malformed("model not printable ASCII of at most 1024 bytes")
		}
		out.Model = model
	}
	if stop, ok := m.member("stop"); ok {
		if out.StopReason = inference.StopReason(stop); !knownStopReason(out.StopReason) {
			return inference.Response{}, malformed("unknown stop reason")
		}
	}
	usage, ok := m.member("usage")
	if !ok {
		return inference.Response{}, malformed("no usage")
	}
	for i, dst := range [...]*int{&out.Usage.InputTokens, &out.Usage.OutputTokens, &out.Usage.CacheReadInputTokens, &out.Usage.CacheWriteInputTokens} {
		n, rest, more := strings.Cut(usage, ",")
		c, ok := parseCount(n)
		if !ok || int64(int(c)) != c || more != (i < 3) {
			return inference.Response{}, malformed("usage not four counts")
		}
		*dst, usage = int(c), rest
	}
	latency, ok := m.member("latency")
	if !ok {
		return inference.Response{}, malformed("no latency")
	}
	n, ok := parseCount(latency)
	if !ok {
		return inference.Response{}, malformed("latency not a count")
	}
	out.Latency = time.Duration(n)
	if m.rest != "" {
		return inference.Response{}, malformed("members out of order, repeated or unknown")
	}
	return out, nil
}

// parseCount reads a non-negative decimal as strconv writes it: digits
// only, no sign, no leading zero, in range of an int64.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > maxCount || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// knownStopReason reports whether r is one of the stop reasons backends
// set, or none.
func knownStopReason(r inference.StopReason) bool {
	switch r {
	case "", inference.StopEndTurn, inference.StopMaxTokens, inference.StopSequence, inference.StopContentFiltered:
		return true
	}
	return false
}

// validText reports whether s can be the id or model in headerAnswer:
// printable ASCII but ';' (the members' separator), bounded.
func validText(s string) bool {
	if len(s) > maxAnswerText {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e || s[i] == ';' {
			return false
		}
	}
	return true
}

// validReceipt reports whether s can be the receipt header: a compact JWS
// (base64url and dots) of at most receipt.MaxTokenBytes, or empty.
func validReceipt(s string) bool {
	if len(s) > receipt.MaxTokenBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// readAnswer reads a forwarded non-streaming answer: in the answer form
// when its Content-Type says so, else the JSON Response every node writes.
func readAnswer(resp *http.Response, clk clock.Clock) (*inference.Response, error) {
	if !isAnswer(resp.Header.Get("Content-Type")) {
		var out inference.Response
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return nil, err
		}
		readToEnd(resp.Body, clk)
		return &out, nil
	}
	out, err := parseAnswerHeaders(resp.Header)
	if err != nil {
		return nil, err
	}
	if out.Body, err = readAnswerBody(resp.Body, resp.ContentLength); err != nil {
		return nil, err
	}
	return &out, nil
}

const (
	// maxTrailing bounds what readToEnd reads.
	maxTrailing = 4 << 10
	// trailingTimeout bounds how long readToEnd waits for the body's end.
	trailingTimeout = time.Second
)

// readToEnd reads what follows a decoded JSON value to the end of the body
// (at most maxTrailing bytes): json.Decoder stops at the value's end, and
// net/http closes a connection whose response body is closed before its
// end, so the next forward would dial (and shake hands) again. From a
// well-behaved destination what follows is the encoder's newline and the
// body's end, normally read with the value; a body whose end arrives apart
// is waited for at most trailingTimeout on clk, after which the body is
// closed (and its connection with it): a destination that holds the body
// open after its answer must not hold the caller, or the connection, long.
func readToEnd(body io.ReadCloser, clk clock.Clock) {
	readRest(body, maxTrailing, clk, trailingTimeout, func() { body.Close() })
}

// readRest reads r on to its end, at most limit bytes, waiting at most
// wait on clk: then it calls stop, which must end the read (by closing the
// body or cancelling its request).
func readRest(r io.Reader, limit int64, clk clock.Clock, wait time.Duration, stop func()) {
	t := clk.AfterFuncTimer(wait, stop)
	io.CopyN(io.Discard, r, limit)
	t.Stop()
}

// readAnswerBody reads the body of an answer form: n bytes when the length
// is known (-1 when not), never more than maxAnswerBytes, never none.
func readAnswerBody(r io.Reader, n int64) ([]byte, error) {
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: empty body", errMalformedAnswer)
	case n > maxAnswerBytes:
		return nil, fmt.Errorf("%w: body of %d bytes exceeds %d", errMalformedAnswer, n, maxAnswerBytes)
	case n < 0:
		b, err := io.ReadAll(io.LimitReader(r, maxAnswerBytes+1))
		switch {
		case err != nil:
			return nil, err
		case len(b) == 0:
			return nil, fmt.Errorf("%w: empty body", errMalformedAnswer)
		case len(b) > maxAnswerBytes:
			return nil, fmt.Errorf("%w: body exceeds %d bytes", errMalformedAnswer, maxAnswerBytes)
		}
		return b, nil
	}
	// One byte more than announced: reading it sees the end of the body
	// (which frees the connection for the next request) or a body longer
	// than its length, in one allocation.
	b := make([]byte, n+1)
	got, err := io.ReadFull(r, b)
	switch {
	case int64(got) == n && errors.Is(err, io.ErrUnexpectedEOF):
		return b[:n:n], nil
	case int64(got) > n:
		return nil, fmt.Errorf("%w: body longer than its Content-Length %d", errMalformedAnswer, n)
	case err == nil || errors.Is(err, io.EOF):
		err = io.ErrUnexpectedEOF
	}
	return nil, fmt.Errorf("body cut off after %d of %d bytes: %w", got, n, err)
}
