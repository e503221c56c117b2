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

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/receipt"
)

// ContentTypeAnswer is the media type of a forwarded non-streaming answer
// in the answer form: the upstream's answer bytes ([inference.Response]
// Body) as the HTTP body, verbatim (no JSON, no base64), and the rest of
// the Response in the Meridian-Answer-* headers. A source advertises it in
// Accept, after which a destination that knows it answers in it when the
// Response has a Body it can carry so; any other answer is the Response as
// JSON (application/json), which every node reads and writes. The format is
// described in doc.go.
const ContentTypeAnswer = "application/vnd.meridian.answer.v1"

// acceptAnswer is the Accept header of a forwarded non-streaming request:
// the answer form preferred, JSON as before (and for errors).
const acceptAnswer = ContentTypeAnswer + ", application/json; q=0.5"

// The headers of the answer form. Dialect, usage and latency are always
// set; the others only when not empty.
const (
	headerAnswerDialect    = "Meridian-Answer-Dialect"
	headerAnswerID         = "Meridian-Answer-Id"
	headerAnswerModel      = "Meridian-Answer-Model"
	headerAnswerStopReason = "Meridian-Answer-Stop-Reason"
	headerAnswerUsage      = "Meridian-Answer-Usage"
	headerAnswerLatency    = "Meridian-Answer-Latency"
	headerAnswerReceipt    = "Meridian-Answer-Receipt"
)

// maxAnswerBytes bounds the body of the answer form: the largest answer a
// backend reads from an upstream for pass-through (64 MiB). A destination
// sends a larger one as JSON, which the source reads as it always has.
const maxAnswerBytes = 64 << 20

// maxAnswerText bounds the id and model headers; an upstream's are far
// shorter, and a longer one goes as JSON.
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
// Content-Type, Content-Length and the Meridian-Answer-* headers.
func setAnswerHeaders(h http.Header, resp *inference.Response) {
	// The numbers are written into one string and the values share one
	// backing array: two allocations for all the headers.
	var buf [160]byte
	b := append(buf[:0], "input="...)
	b = strconv.AppendInt(b, int64(resp.Usage.InputTokens), 10)
	b = append(b, ";output="...)
	b = strconv.AppendInt(b, int64(resp.Usage.OutputTokens), 10)
	b = append(b, ";cache_read="...)
	b = strconv.AppendInt(b, int64(resp.Usage.CacheReadInputTokens), 10)
	b = append(b, ";cache_write="...)
	b = strconv.AppendInt(b, int64(resp.Usage.CacheWriteInputTokens), 10)
	usageEnd := len(b)
	b = strconv.AppendInt(b, int64(resp.Latency), 10)
	latencyEnd := len(b)
	b = strconv.AppendInt(b, int64(len(resp.Body)), 10)
	nums := string(b)

	vals := make([]string, 0, 9)
	set := func(k, v string) {
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	set("Content-Type", ContentTypeAnswer)
	set("Content-Length", nums[latencyEnd:])
	set(headerAnswerDialect, resp.Dialect.String())
	if resp.ID != "" {
		set(headerAnswerID, resp.ID)
	}
	if resp.Model != "" {
		set(headerAnswerModel, resp.Model)
	}
	if resp.StopReason != "" {
		set(headerAnswerStopReason, string(resp.StopReason))
	}
	set(headerAnswerUsage, nums[:usageEnd])
	set(headerAnswerLatency, nums[usageEnd:latencyEnd])
	if resp.Receipt != "" {
		set(headerAnswerReceipt, resp.Receipt)
	}
}

// errMalformedAnswer is the cause of an answer form that does not parse.
var errMalformedAnswer = errors.New("malformed answer")

// parseAnswerHeaders reads the Response of an answer form, but its Body,
// from its headers. It is strict: each header at most once, never empty, a
// known dialect and stop reason, usage and latency in exactly the form
// setAnswerHeaders writes, id and model printable ASCII of bounded length,
// and a receipt of receipt.MaxTokenBytes at most in the JWS alphabet.
// Other headers are not its business and are ignored.
func parseAnswerHeaders(h http.Header) (inference.Response, error) {
	var out inference.Response
	v, err := answerHeader(h, headerAnswerDialect, true)
	if err != nil {
		return inference.Response{}, err
	}
	d, ok := inference.ParseDialect(v)
	if !ok {
		return inference.Response{}, fmt.Errorf("%w: unknown dialect %.32q", errMalformedAnswer, v)
	}
	out.Dialect = d
	if out.ID, err = answerText(h, headerAnswerID); err != nil {
		return inference.Response{}, err
	}
	if out.Model, err = answerText(h, headerAnswerModel); err != nil {
		return inference.Response{}, err
	}
	if v, err = answerHeader(h, headerAnswerStopReason, false); err != nil {
		return inference.Response{}, err
	}
	if out.StopReason = inference.StopReason(v); !knownStopReason(out.StopReason) {
		return inference.Response{}, fmt.Errorf("%w: unknown stop reason %.32q", errMalformedAnswer, v)
	}
	if v, err = answerHeader(h, headerAnswerUsage, true); err != nil {
		return inference.Response{}, err
	}
	if out.Usage, err = parseUsage(v); err != nil {
		return inference.Response{}, err
	}
	if v, err = answerHeader(h, headerAnswerLatency, true); err != nil {
		return inference.Response{}, err
	}
	n, ok := parseCount(v)
	if !ok {
		return inference.Response{}, fmt.Errorf("%w: latency %.32q", errMalformedAnswer, v)
	}
	out.Latency = time.Duration(n)
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

// answerText returns the value of the optional id or model header k.
func answerText(h http.Header, k string) (string, error) {
	v, err := answerHeader(h, k, false)
	if err == nil && !validText(v) {
		err = fmt.Errorf("%w: %s is not printable ASCII of at most %d bytes", errMalformedAnswer, k, maxAnswerText)
	}
	return v, err
}

// parseUsage reads "input=N;output=N;cache_read=N;cache_write=N", the four
// counts in this order, each once.
func parseUsage(v string) (inference.Usage, error) {
	var u inference.Usage
	rest := v
	for i, f := range [...]struct {
		name string
		dst  *int
	}{{"input=", &u.InputTokens}, {"output=", &u.OutputTokens}, {"cache_read=", &u.CacheReadInputTokens}, {"cache_write=", &u.CacheWriteInputTokens}} {
		if i > 0 {
			if !strings.HasPrefix(rest, ";") {
				return inference.Usage{}, fmt.Errorf("%w: usage %.64q", errMalformedAnswer, v)
			}
			rest = rest[1:]
		}
		if !strings.HasPrefix(rest, f.name) {
			return inference.Usage{}, fmt.Errorf("%w: usage %.64q", errMalformedAnswer, v)
		}
		rest = rest[len(f.name):]
		end := strings.IndexByte(rest, ';')
		if end < 0 {
			end = len(rest)
		}
		n, ok := parseCount(rest[:end])
		if !ok || int64(int(n)) != n {
			return inference.Usage{}, fmt.Errorf("%w: usage %.64q", errMalformedAnswer, v)
		}
		*f.dst = int(n)
		rest = rest[end:]
	}
	if rest != "" {
		return inference.Usage{}, fmt.Errorf("%w: usage %.64q", errMalformedAnswer, v)
	}
	return u, nil
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

// validText reports whether s can be an id or model header: printable
// ASCII, no space at either end (HTTP would trim it), bounded.
func validText(s string) bool {
	if len(s) > maxAnswerText {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s == "" || (s[0] != ' ' && s[len(s)-1] != ' ')
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
func readAnswer(resp *http.Response) (*inference.Response, error) {
	if !isAnswer(resp.Header.Get("Content-Type")) {
		var out inference.Response
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return nil, err
		}
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
