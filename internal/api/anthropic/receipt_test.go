package anthropic_test

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/openai/openai-go/v3"
	oaoption "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/meridian-gateway/meridian/internal/receipt"
	schema "github.com/meridian-gateway/meridian/internal/schema/anthropic"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// captured records the request body a client sent and the response body it
// received (not for streams, which the client reads itself).
type captured struct{ req, resp []byte }

func (c *captured) capture(r *http.Request, next func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	if r.Body != nil {
		c.req, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(c.req))
	}
	resp, err := next(r)
	if err == nil && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		c.resp, _ = io.ReadAll(resp.Body)
		resp.Body = io.NopCloser(bytes.NewReader(c.resp))
	}
	return resp, err
}

func (c *cluster) roots() *x509.CertPool {
	c.t.Helper()
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		c.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		c.t.Fatal("no certificate in the link CA file")
	}
	return pool
}

// compact is a tool call's arguments as a receipt's answer text has them
// (docs/receipts.md): compact JSON.
func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("tool arguments %s: %v", raw, err)
	}
	return b.String()
}

// checkReceipt verifies tok against the link CA and checks that it names
// region and covers req and the answer (form, hash).
func checkReceipt(t *testing.T, c *cluster, tok, region string, routed []byte, form receipt.AnswerForm, answerHash string) {
	t.Helper()
	claims, err := receipt.Verify(tok, c.roots(), time.Now())
	if err != nil {
		t.Fatalf("receipt %q: %v", tok, err)
	}
	if claims.InferenceRegion != region || claims.SourceRegion != "eu-west-1" {
		t.Errorf("receipt regions: inference %s source %s, want %s and eu-west-1", claims.InferenceRegion, claims.SourceRegion, region)
	}
	if claims.RequestSHA256 != receipt.BodyHash(routed) {
		t.Errorf("request_sha256 %s, want the hash of the body as routed %s", claims.RequestSHA256, receipt.BodyHash(routed))
	}
	if claims.AnswerForm != form || claims.AnswerSHA256 != answerHash {
		t.Errorf("answer %s %s, want %s %s", claims.AnswerForm, claims.AnswerSHA256, form, answerHash)
	}
}

func textHash(s string) string {
	h := receipt.NewAnswerHasher()
	h.WriteString(s)
	return h.Sum()
}

// messagesRouted is the body a Messages request is served with, which its
// receipt's request_sha256 covers (docs/receipts.md): the client's, in the
// InvokeModel form (model and stream out, anthropic_version in).
func messagesRouted(t *testing.T, body []byte) []byte {
	t.Helper()
	out, err := schema.ToBedrockBody(body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// responsesRouted is the body a Responses request is served with: its
// Chat Completions translation.
func responsesRouted(t *testing.T, body []byte, model string, stream bool) []byte {
	t.Helper()
	out, _, err := translate.ResponsesChatRequest(body, model, stream)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// anthropicAnswerText is the answer text of a Messages body as
// docs/receipts.md defines it: text blocks' text and tool_use inputs as
// compact JSON, in order.
func anthropicAnswerText(t *testing.T, body []byte) string {
	t.Helper()
	var m struct {
		Content []struct {
			Type  string          `json:"type"`
			Text  string          `json:"text"`
			Input json.RawMessage `json:"input"`
		} `json:"content"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, c := range m.Content {
		switch c.Type {
		case "text":
			b.WriteString(c.Text)
		case "tool_use":
			b.WriteString(compact(t, c.Input))
		}
	}
	return b.String()
}

// eventStream is what the tests read of both SDKs' event streams.
type eventStream[T any] interface {
	Next() bool
	Current() T
	Err() error
}

// drain reads s to its end, giving each event to see, and fails t on the
// stream's error.
func drain[T any](t *testing.T, s eventStream[T], see func(T)) {
	t.Helper()
	for s.Next() {
		see(s.Current())
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
}

// streamedReceipt is the receipt member of a stream event's data.
func streamedReceipt(raw string) string {
	var m struct {
		Receipt string `json:"meridian_receipt"`
	}
	json.Unmarshal([]byte(raw), &m)
	return m.Receipt
}

// checkArguments fails t unless an answer's text carries the tool call's
// arguments; streamed text has them in pieces, so only the key is looked
// for.
func checkArguments(t *testing.T, text string, streamed bool) {
	t.Helper()
	if !streamed && !strings.Contains(text, `"city":`) {
		t.Fatalf("answer text %q lacks the tool call's arguments", text)
	}
	if streamed && !strings.Contains(text, `city`) {
		t.Fatalf("streamed text %q lacks the tool call's arguments", text)
	}
}

// checkUnasked fails t when an answer given without opt-in carries a
// receipt header.
func checkUnasked(t *testing.T, resp *http.Response) {
	t.Helper()
	if v := resp.Header.Get(receipt.Header); v != "" {
		t.Errorf("unasked receipt %q", v)
	}
}

// checkUnaskedStream fails t when an event of a stream asked for without
// opt-in carries a receipt.
func checkUnaskedStream[T interface{ RawJSON() string }](t *testing.T, s eventStream[T]) {
	t.Helper()
	drain(t, s, func(ev T) {
		if raw := ev.RawJSON(); strings.Contains(raw, receipt.StreamField) {
			t.Errorf("unasked receipt in %s", raw)
		}
	})
}

// TestMessagesReceipt: Anthropic's client asking for a receipt gets one
// signed by the region where inference ran, streamed (on message_stop) and
// not (header), over the body it received when the Anthropic answer passes
// through and over the answer's text, tool-call arguments included, when it
// is translated; without asking, none.
func TestMessagesReceipt(t *testing.T) {
	c := startCluster(t)
	client := c.client("eu-west-1", c.key)
	for _, sv := range served {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", sv.name, stream), func(t *testing.T) {
				params := weatherParams(sv.model)
				var cp captured
				opts := []option.RequestOption{option.WithHeader(receipt.Header, "true"), option.WithMiddleware(cp.capture)}
				var resp *http.Response
				if !stream {
					if _, err := client.Messages.New(t.Context(), params, append(opts, option.WithResponseInto(&resp))...); err != nil {
						t.Fatal(err)
					}
					text := anthropicAnswerText(t, cp.resp)
					checkArguments(t, text, false)
					form, hash := receipt.AnswerText, textHash(text)
					if strings.Contains(sv.name, "bedrock") {
						form, hash = receipt.AnswerBody, receipt.BodyHash(cp.resp)
					}
					checkReceipt(t, c, resp.Header.Get(receipt.Header), sv.region, messagesRouted(t, cp.req), form, hash)

					// Without opt-in: no receipt.
					if _, err := client.Messages.New(t.Context(), params, option.WithResponseInto(&resp)); err != nil {
						t.Fatal(err)
					}
					checkUnasked(t, resp)
					return
				}
				var text strings.Builder
				tok := ""
				drain(t, client.Messages.NewStreaming(t.Context(), params, opts...), func(ev anthropic.MessageStreamEventUnion) {
					switch ev.Type {
					case "content_block_delta":
						text.WriteString(ev.Delta.Text)
						text.WriteString(ev.Delta.PartialJSON)
					case "message_stop":
						tok = streamedReceipt(ev.RawJSON())
					}
				})
				checkArguments(t, text.String(), true)
				checkReceipt(t, c, tok, sv.region, messagesRouted(t, cp.req), receipt.AnswerText, textHash(text.String()))

				// Without opt-in: no receipt.
				checkUnaskedStream(t, client.Messages.NewStreaming(t.Context(), params))
			})
		}
	}
}

// responsesAnswerText is the answer text of a Responses body as
// docs/receipts.md defines it: output_text parts and function_call
// arguments as compact JSON, in order.
func responsesAnswerText(t *testing.T, body []byte) string {
	t.Helper()
	var r struct {
		Output []struct {
			Type    string `json:"type"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
			Arguments string `json:"arguments"`
		} `json:"output"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, o := range r.Output {
		switch o.Type {
		case "message":
			for _, c := range o.Content {
				if c.Type == "output_text" {
					b.WriteString(c.Text)
				}
			}
		case "function_call":
			b.WriteString(compact(t, []byte(o.Arguments)))
		}
	}
	return b.String()
}

// TestResponsesReceipt: OpenAI's client on POST /v1/responses asking for a
// receipt gets one signed by the region where inference ran, streamed (on
// response.completed) and not (header), over the answer's text with the
// tool-call arguments (a Responses answer is always translated); without
// asking, none.
func TestResponsesReceipt(t *testing.T) {
	c := startCluster(t)
	client := openai.NewClient(oaoption.WithBaseURL(c.url("eu-west-1")+"/v1"), oaoption.WithAPIKey(c.key), oaoption.WithMaxRetries(0))
	tool := responses.ToolUnionParam{OfFunction: &responses.FunctionToolParam{Name: "get_weather", Strict: openai.Bool(false),
		Parameters: map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}}}}
	for _, sv := range served {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", sv.name, stream), func(t *testing.T) {
				params := responses.ResponseNewParams{Model: sv.model, Tools: []responses.ToolUnionParam{tool},
					Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("What is the weather in Paris?")}}
				var cp captured
				opts := []oaoption.RequestOption{oaoption.WithHeader(receipt.Header, "true"), oaoption.WithMiddleware(cp.capture)}
				var resp *http.Response
				if !stream {
					if _, err := client.Responses.New(t.Context(), params, append(opts, oaoption.WithResponseInto(&resp))...); err != nil {
						t.Fatal(err)
					}
					text := responsesAnswerText(t, cp.resp)
					checkArguments(t, text, false)
					checkReceipt(t, c, resp.Header.Get(receipt.Header), sv.region, responsesRouted(t, cp.req, sv.model, false), receipt.AnswerText, textHash(text))

					// Without opt-in: no receipt.
					if _, err := client.Responses.New(t.Context(), params, oaoption.WithResponseInto(&resp)); err != nil {
						t.Fatal(err)
					}
					checkUnasked(t, resp)
					return
				}
				var text strings.Builder
				tok := ""
				drain(t, client.Responses.NewStreaming(t.Context(), params, opts...), func(ev responses.ResponseStreamEventUnion) {
					switch ev.Type {
					case "response.output_text.delta", "response.function_call_arguments.delta":
						text.WriteString(ev.Delta)
					case "response.completed":
						tok = streamedReceipt(ev.RawJSON())
					}
				})
				checkArguments(t, text.String(), true)
				checkReceipt(t, c, tok, sv.region, responsesRouted(t, cp.req, sv.model, true), receipt.AnswerText, textHash(text.String()))

				// Without opt-in: no receipt.
				checkUnaskedStream(t, client.Responses.NewStreaming(t.Context(), params))
			})
		}
	}
}
