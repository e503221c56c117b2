package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/mockllm"
)

// MockConfig configures an embedded simulated model server.
type MockConfig struct {
	// Model is the model name the simulated server serves.
	Model           string
	TTFT            time.Duration
	TokensPerSecond float64
	MaxConcurrency  int
	RPM             int
	TPM             int
	FailRate        float64
	Seed            int64
	// ConnectTimeout and FirstByteTimeout apply to the adapter as they do to
	// a real upstream's (zero: the adapter's defaults).
	ConnectTimeout, FirstByteTimeout time.Duration
	// StreamIdleTimeout applies to the adapter as for OpenAI.
	StreamIdleTimeout time.Duration
	// API is how the simulated server is reached: "openai" (the OpenAI
	// adapter, chat completions) or "bedrock" (the Bedrock adapter,
	// Converse and InvokeModel). If empty, "openai".
	API string
	// Clock paces the simulated server and times the adapter. If nil,
	// clock.Wall.
	Clock clock.Clock
}

// Mock is a Backend backed by an in-process `meridian mockllm` server on a
// loopback port, reached through the same OpenAI or Bedrock adapter as a
// real upstream, so demos and tests exercise the real wire path.
type Mock struct {
	Backend
	server *mockllm.Server
	cancel context.CancelFunc
	done   chan error
}

var _ Backend = (*Mock)(nil)

// NewMock starts a simulated server on 127.0.0.1 and returns its adapter.
func NewMock(cfg MockConfig) (*Mock, error) {
	mc := mockllm.Default()
	mc.Models = []string{cfg.Model}
	mc.TTFT, mc.TokensPerSecond = cfg.TTFT, cfg.TokensPerSecond
	mc.MaxConcurrency, mc.RPM, mc.TPM = cfg.MaxConcurrency, cfg.RPM, cfg.TPM
	mc.FailRate, mc.Seed = cfg.FailRate, cfg.Seed
	mc.Clock = clock.Or(cfg.Clock)
	if err := mc.Validate(); err != nil {
		return nil, fmt.Errorf("mock backend: %w", err)
	}
	srv := mockllm.New(mc)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("mock backend: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Mock{server: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- srv.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()
	if cfg.API == "bedrock" {
		b, err := NewBedrock(ctx, BedrockConfig{Region: "us-east-1", Model: cfg.Model, Endpoint: base, AnthropicModel: !otherBedrockFamily(cfg.Model),
			Credentials:    credentials.NewStaticCredentialsProvider("AKIDMOCKLLM", "mockllm", ""),
			ConnectTimeout: cfg.ConnectTimeout, FirstByteTimeout: cfg.FirstByteTimeout, StreamIdleTimeout: cfg.StreamIdleTimeout, Clock: cfg.Clock})
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("mock backend: %w", err)
		}
		m.Backend = b
		return m, nil
	}
	m.Backend = NewOpenAI(OpenAIConfig{BaseURL: base + "/v1", Model: cfg.Model,
		ConnectTimeout: cfg.ConnectTimeout, FirstByteTimeout: cfg.FirstByteTimeout, StreamIdleTimeout: cfg.StreamIdleTimeout, Clock: cfg.Clock})
	return m, nil
}

// otherBedrockProviders are the Bedrock model providers whose models take
// no Anthropic Messages body on InvokeModel.
var otherBedrockProviders = []string{"amazon.", "meta.", "mistral.", "cohere.", "ai21.", "deepseek.", "qwen.", "openai.", "writer.", "twelvelabs.",
	"google.", "nvidia.", "minimax.", "moonshot.", "stability."}

// otherBedrockFamily reports whether a simulated Bedrock model is named
// like one of another provider than Anthropic's ("amazon.nova-pro-v1:0",
// "eu.meta.llama3-2-1b-instruct-v1:0"): the adapter then translates an
// Anthropic body to Converse for it, as it would for the real model. Any
// other name (a topology's own, "demo.chat") takes Anthropic bodies, so
// that Anthropic clients pass through to the simulator.
func otherBedrockFamily(model string) bool {
	for _, p := range otherBedrockProviders {
		if strings.HasPrefix(model, p) || strings.Contains(model, "."+p) {
			return true
		}
	}
	return false
}

// Server returns the simulated server, for operator actions (take down,
// throttle) in demos and tests.
func (m *Mock) Server() *mockllm.Server { return m.server }

// Close stops the simulated server.
func (m *Mock) Close() error {
	if m.Backend != nil {
		m.Backend.Close()
	}
	m.cancel()
	err := <-m.done
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
