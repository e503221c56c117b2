package node

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/audit"
	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/receipt"
	oa "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// capture records the request body the official client sent and the
// response body it received.
type capture struct{ req, resp []byte }

func (c *capture) middleware(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
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

func linkRoots(t *testing.T, c *cluster) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(c.link.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return pool
}

// A request served in another region than it entered carries a receipt
// signed by the inference region, over the client's bytes and the answer
// as delivered; a request that did not ask gets none.
func TestReceiptForwardedOpenAI(t *testing.T) {
	c := startCluster(t, threeRegions, "")
	c.mocks["eu-west-1"].SetThrottled(time.Hour) // served in eu-central-1
	roots := linkRoots(t, c)
	cl := c.client("eu-west-1")
	params := oa.ChatCompletionNewParams{Model: "eu.demo.chat-small", Messages: []oa.ChatCompletionMessageParamUnion{oa.UserMessage("where?")}}

	t.Run("non-streaming", func(t *testing.T) {
		var cp capture
		var raw *http.Response
		if _, err := cl.Chat.Completions.New(t.Context(), params, option.WithHeader(receipt.Header, "true"),
			option.WithMiddleware(cp.middleware), option.WithResponseInto(&raw)); err != nil {
			t.Fatal(err)
		}
		tok := raw.Header.Get(receipt.Header)
		claims, err := receipt.Verify(tok, roots, time.Now())
		if err != nil {
			t.Fatalf("receipt %q: %v", tok, err)
		}
		if claims.InferenceRegion != "eu-central-1" || claims.SourceRegion != "eu-west-1" || claims.RequestID != raw.Header.Get("X-Meridian-Request-Id") {
			t.Errorf("claims %+v", claims)
		}
		if claims.RequestSHA256 != receipt.BodyHash(cp.req) {
			t.Errorf("request_sha256 %s, want the hash of the client's body %s", claims.RequestSHA256, receipt.BodyHash(cp.req))
		}
		if claims.AnswerForm != receipt.AnswerBody || claims.AnswerSHA256 != receipt.BodyHash(cp.resp) {
			t.Errorf("answer %s %s, want body %s", claims.AnswerForm, claims.AnswerSHA256, receipt.BodyHash(cp.resp))
		}
		if claims.Audit.Hash == "" || claims.Audit.EventID != claims.RequestID || claims.Usage.OutputTokens == 0 {
			t.Errorf("audit %+v usage %+v", claims.Audit, claims.Usage)
		}
		// What meridian audit verify --receipt does: the event is in the
		// inference region's verified chain.
		if _, ev, err := audit.FindReceiptEvent(filepath.Join(c.auditDir, "eu-central-1"), claims.Audit.EventID, claims.Audit.Hash, claims.InferenceRegion); err != nil || ev == nil {
			t.Errorf("receipt's audit event in eu-central-1's log: %v", err)
		}
	})

	t.Run("streaming", func(t *testing.T) {
		var cp capture
		stream := cl.Chat.Completions.NewStreaming(t.Context(), params, option.WithHeader(receipt.Header, "true"), option.WithMiddleware(cp.middleware))
		var text strings.Builder
		var tok string
		for stream.Next() {
			ch := stream.Current()
			for _, c := range ch.Choices {
				text.WriteString(c.Delta.Content)
			}
			var m map[string]json.RawMessage
			if json.Unmarshal([]byte(ch.RawJSON()), &m) == nil && m[receipt.StreamField] != nil {
				json.Unmarshal(m[receipt.StreamField], &tok)
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		claims, err := receipt.Verify(tok, roots, time.Now())
		if err != nil {
			t.Fatalf("stream receipt %q: %v", tok, err)
		}
		h := receipt.NewAnswerHasher()
		h.WriteString(text.String())
		if claims.InferenceRegion != "eu-central-1" || claims.AnswerForm != receipt.AnswerText || claims.AnswerSHA256 != h.Sum() ||
			claims.RequestSHA256 != receipt.BodyHash(cp.req) || text.Len() == 0 {
			t.Errorf("claims %+v for text %q", claims, text.String())
		}
	})

	t.Run("tampered, swapped or signed elsewhere fails", func(t *testing.T) {
		post := func(content string) (tok string, req, resp []byte) {
			var cp capture
			var raw *http.Response
			p := params
			p.Messages = []oa.ChatCompletionMessageParamUnion{oa.UserMessage(content)}
			if _, err := cl.Chat.Completions.New(t.Context(), p, option.WithHeader(receipt.Header, "true"),
				option.WithMiddleware(cp.middleware), option.WithResponseInto(&raw)); err != nil {
				t.Fatal(err)
			}
			return raw.Header.Get(receipt.Header), cp.req, cp.resp
		}
		tokA, reqA, respA := post("first question")
		tokB, reqB, _ := post("second question")
		// Swapped: B's receipt is valid, but not for A's request.
		b, err := receipt.Verify(tokB, roots, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if b.RequestSHA256 == receipt.BodyHash(reqA) || b.RequestSHA256 != receipt.BodyHash(reqB) {
			t.Errorf("receipt B's request hash %s matches request A's (%s)", b.RequestSHA256, receipt.BodyHash(reqA))
		}
		// Edited: any claim changed breaks the signature.
		parts := strings.Split(tokA, ".")
		claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
		for _, edit := range [][2]string{{`"eu-central-1"`, `"eu-west-1"`}, {receipt.BodyHash(respA), receipt.BodyHash(reqA)}} {
			forged := bytes.Replace(claims, []byte(edit[0]), []byte(edit[1]), 1)
			tok := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
			if _, err := receipt.Verify(tok, roots, time.Now()); err == nil || bytes.Equal(forged, claims) {
				t.Errorf("receipt with %s replaced by %s verifies", edit[0], edit[1])
			}
		}
		// Signed by the source region's key, claiming the destination.
		a, err := receipt.Verify(tokA, roots, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		// The source's issuer refuses to sign it (a hand-made JWS with
		// that key fails Verify: internal/receipt's TestVerify).
		if forged, err := c.nodes["eu-west-1"].receiptIssuer().Issue(*a); err == nil {
			if _, err := receipt.Verify(forged, roots, time.Now()); err == nil {
				t.Error("a receipt for eu-central-1 signed with eu-west-1's link key verifies")
			}
		}
	})

	t.Run("without opt-in", func(t *testing.T) {
		var raw *http.Response
		if _, err := cl.Chat.Completions.New(t.Context(), params, option.WithResponseInto(&raw)); err != nil {
			t.Fatal(err)
		}
		if v := raw.Header.Get(receipt.Header); v != "" {
			t.Errorf("unasked receipt %q", v)
		}
		status, _, body := c.post("eu-west-1", chatBody("eu.demo.chat-small", true), c.key)
		if status != 200 || bytes.Contains(body, []byte(receipt.StreamField)) {
			t.Errorf("stream without opt-in: %d %s", status, body)
		}
	})
}

// A principal with receipts: true gets a receipt without asking, for a
// request served where it entered.
func TestReceiptPrincipalOptIn(t *testing.T) {
	key, _ := auth.NewKey()
	c := startCluster(t, []regionSpec{{"eu-central-1", "eu"}}, "  - {id: compliance, api_keys: ["+strconvQuote(auth.HashKey(key))+"], receipts: true}\n")
	status, h, body := c.post("eu-central-1", chatBody("eu.demo.chat-small", false), key)
	claims, err := receipt.Verify(h.Get(receipt.Header), linkRoots(t, c), time.Now())
	if status != 200 || err != nil {
		t.Fatalf("status %d, receipt: %v", status, err)
	}
	if claims.InferenceRegion != "eu-central-1" || claims.SourceRegion != "eu-central-1" || claims.AnswerSHA256 != receipt.BodyHash(body) ||
		claims.RequestSHA256 != receipt.BodyHash([]byte(chatBody("eu.demo.chat-small", false))) {
		t.Errorf("claims %+v", claims)
	}
	// Streamed: the receipt is in the last chunk before [DONE], over the
	// content the chunks carried.
	status, _, body = c.post("eu-central-1", chatBody("eu.demo.chat-small", true), key)
	var text strings.Builder
	var tok, last string
	for line := range strings.Lines(string(body)) {
		data, ok := strings.CutPrefix(strings.TrimSpace(line), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			break
		}
		last = data
		var ch struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
			Receipt string `json:"meridian_receipt"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatalf("chunk %s: %v", data, err)
		}
		for _, c := range ch.Choices {
			text.WriteString(c.Delta.Content)
		}
		if ch.Receipt != "" {
			tok = ch.Receipt
		}
	}
	if status != 200 || !strings.Contains(last, receipt.StreamField) {
		t.Fatalf("stream: status %d, last chunk before [DONE] %s", status, last)
	}
	claims, err = receipt.Verify(tok, linkRoots(t, c), time.Now())
	h2 := receipt.NewAnswerHasher()
	h2.WriteString(text.String())
	if err != nil || claims.AnswerForm != receipt.AnswerText || claims.AnswerSHA256 != h2.Sum() || text.Len() == 0 {
		t.Errorf("stream receipt: %v, claims %+v, text %q", err, claims, text.String())
	}
	if status, h, _ := c.post("eu-central-1", chatBody("eu.demo.chat-small", false), c.key); status != 200 || h.Get(receipt.Header) != "" {
		t.Errorf("tester (no opt-in): status %d receipt %q", status, h.Get(receipt.Header))
	}
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }
