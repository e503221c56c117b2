// Package backendtest starts upstreams on loopback that record what they
// receive, and builds backends over them, for the end-to-end tests of the
// front ends (a request through the real front end and gateway, checked
// at the upstream).
package backendtest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// Model serves the simulated model (mockllm, every face of it) until the
// test ends and returns its URL and the bodies it receives: the channel
// holds one, and a body that arrives while it is full is dropped.
func Model(t testing.TB) (url string, got <-chan []byte) {
	t.Helper()
	ch := make(chan []byte, 1)
	model := mockllm.New(mockllm.Config{Received: func(_ string, body []byte) {
		select {
		case ch <- body:
		default:
		}
	}})
	up := httptest.NewServer(model.Handler())
	t.Cleanup(up.Close)
	return up.URL, ch
}

// Request is what an upstream started by [Answer] received.
type Request struct {
	Path string
	Body []byte
}

// Answer serves answer, a JSON body, to every request until the test ends
// and returns its URL and the requests it receives: the channel holds
// one, and a request that arrives while it is full is dropped.
func Answer(t testing.TB, answer string) (url string, got <-chan Request) {
	t.Helper()
	ch := make(chan Request, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case ch <- Request{Path: r.URL.Path, Body: b}:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	t.Cleanup(up.Close)
	return up.URL, ch
}

// OpenAI returns an OpenAI deployment (upstream model "up") of the
// simulated model at url, as [Model] returns it; it is closed when the
// test ends.
func OpenAI(t testing.TB, url string) *backend.OpenAI {
	t.Helper()
	b := backend.NewOpenAI(backend.OpenAIConfig{BaseURL: url + "/v1", Model: "up"})
	t.Cleanup(func() { b.Close() })
	return b
}

// Bedrock returns a Bedrock deployment of model in eu-west-1 whose
// endpoint is url, signing with static test credentials; it is closed
// when the test ends.
func Bedrock(t testing.TB, model, url string) *backend.Bedrock {
	t.Helper()
	b, err := backend.NewBedrock(t.Context(), backend.BedrockConfig{Region: "eu-west-1", Model: model, Endpoint: url,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
