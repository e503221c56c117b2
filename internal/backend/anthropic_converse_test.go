package backend

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/meridian-gateway/meridian/internal/dialect"
	"io"
	"net"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/mockllm"
	"github.com/meridian-gateway/meridian/internal/translate"
)

// TestAnthropicBodyToConverseModel: an Anthropic Messages body for a
// Bedrock model that does not take it on InvokeModel (not Anthropic's) is
// translated to Converse; the answer, and every stream event, come back in
// Converse for the front end to translate back, here checked with the
// translator the front end uses.
func TestAnthropicBodyToConverseModel(t *testing.T) {
	t.Parallel()
	srv := mockllm.New(mockllm.Default())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go srv.Serve(ctx, ln)
	b, err := NewBedrock(t.Context(), BedrockConfig{Region: "us-east-1", Model: "amazon.nova-pro-v1:0", Endpoint: "http://" + ln.Addr().String(),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":32,"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}],` +
		`"messages":[{"role":"user","content":"Weather?"}]}`
	req, err := inference.PeekInvoke("amazon.nova-pro-v1:0", []byte(body), false)
	if err != nil || req.Dialect != inference.DialectAnthropic {
		t.Fatalf("peek: %v (%s)", err, req.Dialect)
	}
	resp, err := b.Complete(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Dialect != inference.DialectConverse || resp.Usage.InputTokens == 0 {
		t.Fatalf("answer in %s with usage %+v, want Converse with usage", resp.Dialect, resp.Usage)
	}
	out, err := dialect.TranslateResponse(resp, inference.DialectAnthropic, translate.ResponseMeta{ID: "msg_1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		StopReason string `json:"stop_reason"`
		Content    []struct{ Type, Name string }
	}
	if err := json.Unmarshal(out, &m); err != nil || m.StopReason != "tool_use" || len(m.Content) != 1 || m.Content[0].Name != "get_weather" {
		t.Fatalf("translated answer %s (%v)", out, err)
	}

	req, _ = inference.PeekInvoke("amazon.nova-pro-v1:0", []byte(body), true)
	s, err := b.Stream(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr, err := dialect.NewStreamTranslator(inference.DialectConverse, inference.DialectAnthropic, translate.ResponseMeta{ID: "msg_1", Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for {
		ev, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ev.Dialect != inference.DialectConverse {
			t.Fatalf("event in %s", ev.Dialect)
		}
		outs, err := tr.Next(&ev)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			types = append(types, o.Type)
		}
	}
	fin, _ := tr.Finish()
	for _, o := range fin {
		types = append(types, o.Type)
	}
	if len(types) < 5 || types[0] != "message_start" || types[len(types)-1] != "message_stop" {
		t.Fatalf("translated events %v", types)
	}
}
