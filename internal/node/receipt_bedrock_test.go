package node

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/meridian-gateway/meridian/internal/receipt"
)

// bodyCapture is an HTTP client that keeps the last request body and
// response header the official SDK exchanged.
type bodyCapture struct {
	req    []byte
	header http.Header
	resp   *bytes.Buffer // the response body as the SDK read it
}

func (b *bodyCapture) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		b.req, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b.req))
	}
	resp, err := http.DefaultClient.Do(r)
	if err == nil {
		b.header = resp.Header
		b.resp = &bytes.Buffer{}
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.TeeReader(resp.Body, b.resp), resp.Body}
	}
	return resp, err
}

// A principal with receipts: true calling through the official Bedrock
// client gets, for a request forwarded to eu-central-1, a receipt signed
// there: in the response header for Converse, in the metadata event for
// ConverseStream, over the text the client received.
func TestReceiptForwardedBedrock(t *testing.T) {
	const akid, secret, env = "AKIDRECEIPTS", "receipts-secret-0123456789", "MERIDIAN_TEST_RECEIPT_SECRET"
	t.Setenv(env, secret)
	c := startCluster(t, threeRegions, "  - {id: compliance, access_keys: [{id: "+akid+", secret_env: "+env+"}], receipts: true}\n")
	c.mocks["eu-west-1"].SetThrottled(time.Hour) // served in eu-central-1
	roots := linkRoots(t, c)
	var cp bodyCapture
	rt := bedrockruntime.New(bedrockruntime.Options{Region: "eu-west-1", BaseEndpoint: aws.String(c.url("eu-west-1")), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""), HTTPClient: &cp})
	model := aws.String("eu.demo.chat-small")
	msgs := []types.Message{{Role: types.ConversationRoleUser, Content: []types.ContentBlock{&types.ContentBlockMemberText{Value: "where?"}}}}
	check := func(t *testing.T, tok, text string) {
		t.Helper()
		claims, err := receipt.Verify(tok, roots, time.Now())
		if err != nil {
			t.Fatalf("receipt %q: %v", tok, err)
		}
		h := receipt.NewAnswerHasher()
		h.WriteString(text)
		if claims.InferenceRegion != "eu-central-1" || claims.SourceRegion != "eu-west-1" || claims.RequestSHA256 != receipt.BodyHash(cp.req) ||
			claims.AnswerForm != receipt.AnswerText || claims.AnswerSHA256 != h.Sum() || text == "" || claims.Audit.Hash == "" {
			t.Errorf("claims %+v for text %q", claims, text)
		}
	}

	t.Run("Converse", func(t *testing.T) {
		out, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: model, Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		for _, b := range out.Output.(*types.ConverseOutputMemberMessage).Value.Content {
			if tb, ok := b.(*types.ContentBlockMemberText); ok {
				text.WriteString(tb.Value)
			}
		}
		// The node's backends speak OpenAI: the Converse answer is
		// translated, so the receipt covers its text.
		check(t, cp.header.Get(receipt.Header), text.String())
	})

	t.Run("ConverseStream", func(t *testing.T) {
		out, err := rt.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: model, Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		es := out.GetStream()
		defer es.Close()
		var text strings.Builder
		var sawMetadata bool
		for ev := range es.Events() {
			switch v := ev.(type) {
			case *types.ConverseStreamOutputMemberContentBlockDelta:
				if d, ok := v.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
					text.WriteString(d.Value)
				}
			case *types.ConverseStreamOutputMemberMetadata:
				sawMetadata = v.Value.Usage != nil
			}
		}
		if err := es.Err(); err != nil || !sawMetadata {
			t.Fatalf("stream: %v, metadata with usage %v", err, sawMetadata)
		}
		// The SDK drops unknown members: read the metadata event's receipt
		// from the wire.
		tok := metadataReceipt(t, cp.resp.Bytes())
		check(t, tok, text.String())
	})

	invokeBody := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":20,"messages":[{"role":"user","content":"where?"}]}`)
	t.Run("InvokeModel", func(t *testing.T) {
		out, err := rt.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: model, Body: invokeBody, ContentType: aws.String("application/json")})
		if err != nil {
			t.Fatal(err)
		}
		var msg struct {
			Content []struct{ Text string } `json:"content"`
		}
		if err := json.Unmarshal(out.Body, &msg); err != nil {
			t.Fatal(err)
		}
		var text strings.Builder
		for _, c := range msg.Content {
			text.WriteString(c.Text)
		}
		check(t, cp.header.Get(receipt.Header), text.String())
	})

	t.Run("InvokeModelWithResponseStream", func(t *testing.T) {
		out, err := rt.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: model, Body: invokeBody,
			ContentType: aws.String("application/json")})
		if err != nil {
			t.Fatal(err)
		}
		es := out.GetStream()
		defer es.Close()
		var text strings.Builder
		var last map[string]json.RawMessage
		for ev := range es.Events() {
			ch, ok := ev.(*types.ResponseStreamMemberChunk)
			if !ok {
				continue
			}
			var e struct {
				Type  string `json:"type"`
				Delta struct {
					Text string `json:"text"`
				} `json:"delta"`
			}
			json.Unmarshal(ch.Value.Bytes, &e)
			if e.Type == "content_block_delta" {
				text.WriteString(e.Delta.Text)
			}
			last = nil
			json.Unmarshal(ch.Value.Bytes, &last)
		}
		if err := es.Err(); err != nil {
			t.Fatal(err)
		}
		var tok string
		json.Unmarshal(last[receipt.BedrockStreamField], &tok)
		check(t, tok, text.String())
	})
}

// metadataReceipt decodes an eventstream body and returns the
// meridianReceipt member of its metadata event.
func metadataReceipt(t *testing.T, body []byte) string {
	t.Helper()
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(body)
	for r.Len() > 0 {
		msg, err := dec.Decode(r, nil)
		if err != nil {
			t.Fatalf("eventstream: %v", err)
		}
		if v := msg.Headers.Get(":event-type"); v != nil && v.String() == "metadata" {
			var m map[string]any
			if err := json.Unmarshal(msg.Payload, &m); err != nil {
				t.Fatal(err)
			}
			tok, _ := m[receipt.BedrockStreamField].(string)
			return tok
		}
	}
	t.Fatal("no metadata event")
	return ""
}
