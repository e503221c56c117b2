package backend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/mockllm"
	"github.com/meridian-gateway/meridian/internal/schema/bedrockmodel"
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
	// ServiceTiers are the tiers besides default the deployment declares
	// (topology service_tiers): the adapter sends only these, and the
	// simulated server offers only these for Model.
	ServiceTiers []string
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
	mc.ServiceTiers = map[string][]string{cfg.Model: cfg.ServiceTiers}
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
		b, err := NewBedrock(ctx, BedrockConfig{Region: "us-east-1", Model: cfg.Model, Endpoint: base, AnthropicModel: takesAnthropic(cfg.Model),
			Credentials:    credentials.NewStaticCredentialsProvider("AKIDMOCKLLM", "mockllm", ""),
			ConnectTimeout: cfg.ConnectTimeout, FirstByteTimeout: cfg.FirstByteTimeout, StreamIdleTimeout: cfg.StreamIdleTimeout, Clock: cfg.Clock,
			ServiceTiers: cfg.ServiceTiers})
		if err != nil {
			m.Close()
			return nil, fmt.Errorf("mock backend: %w", err)
		}
		m.Backend = b
		return m, nil
	}
	m.Backend = NewOpenAI(OpenAIConfig{BaseURL: base + "/v1", Model: cfg.Model,
		ConnectTimeout: cfg.ConnectTimeout, FirstByteTimeout: cfg.FirstByteTimeout, StreamIdleTimeout: cfg.StreamIdleTimeout, Clock: cfg.Clock,
		ServiceTiers: cfg.ServiceTiers})
	return m, nil
}

// takesAnthropic reports whether a simulated Bedrock model takes Anthropic
// bodies: a Claude model, an id naming no provider, or a topology's own
// name ("demo.chat"), as internal/schema/bedrockmodel's SimulatorFamily
// (which the simulator and the capability defaults read too) says. The
// adapter translates an Anthropic body to Converse for any other
// provider's model ("amazon.nova-pro-v1:0", the model of an ARN such as
// ".../foundation-model/mistral.mistral-large-2402-v1:0"), as it would for
// the real model.
func takesAnthropic(model string) bool {
	return bedrockmodel.SimulatorFamily(model) == bedrockmodel.Claude
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
