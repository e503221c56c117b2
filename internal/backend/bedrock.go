package backend

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/detach"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/schema/bedrockmodel"
)

// BedrockConfig configures an Amazon Bedrock deployment.
type BedrockConfig struct {
	// Region is the AWS region to call (topology aws_region).
	Region string
	// Model is the Bedrock model id or inference profile id (or ARN) sent
	// as modelId.
	Model string
	// Endpoint overrides the Bedrock Runtime endpoint, e.g. a VPC endpoint
	// or another Meridian node. If empty, the SDK resolves it from Region.
	Endpoint string
	// Credentials overrides the default credential chain (environment,
	// shared config, web identity, ECS/EC2 roles). Tests set it.
	Credentials aws.CredentialsProvider
	// ConnectTimeout bounds connection set-up. If zero, 5s.
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the response headers, from the
	// moment the request is written, on Clock, and, for streams, the first
	// event. A request past it fails with a retryable KindTimeout. If
	// zero, 60s.
	FirstByteTimeout time.Duration
	// StreamIdleTimeout bounds the silence before a stream's first event
	// and between two events (see [OpenAIConfig.StreamIdleTimeout]). If
	// zero, DefaultStreamIdleTimeout.
	StreamIdleTimeout time.Duration
	// AnthropicModel says the model takes Anthropic Messages bodies on
	// InvokeModel (they pass through; other dialects are translated to
	// Converse). If false, it is derived from Model (anthropic.*, claude).
	AnthropicModel bool
	// Family names the family of request fields the model takes (a
	// bedrockmodel family name, a topology's backend.family), overriding
	// what internal/schema/bedrockmodel reads from Model: it decides
	// whether Anthropic bodies pass through and what the translation to
	// Converse sends. If empty, read from Model; NewBedrock refuses an
	// unknown name.
	Family string
	// HTTPClient replaces the SDK's HTTP client (tests, fuzzing). As for
	// [OpenAIConfig.Transport], FirstByteTimeout is armed when it reports
	// the request written (httptrace), as an *http.Client does.
	HTTPClient bedrockruntime.HTTPClient
	// ServiceTiers are the tiers besides default the deployment's model
	// offers (topology service_tiers): only these are sent to Bedrock
	// (upstreamTier).
	ServiceTiers []string
	// Clock times requests, signs pass-through calls and is the base of a
	// Retry-After date. If nil, clock.Wall.
	Clock clock.Clock
}

// Bedrock is a Backend that calls Amazon Bedrock's Converse and
// ConverseStream APIs through aws-sdk-go-v2. The SDK does not retry: a
// throttled or unavailable deployment is reported at once as a typed
// *inference.Error so that routing cools it down and fails over.
type Bedrock struct {
	cfg BedrockConfig
	// family is the family of request fields the model takes: cfg.Family,
	// else the one internal/schema/bedrockmodel reads from cfg.Model.
	family bedrockmodel.Family
	client *bedrockruntime.Client
	// creds and http serve the pass-through calls (see bedrock_raw.go).
	creds aws.CredentialsProvider
	http  bedrockruntime.HTTPClient
	// drains owns the reads of the bodies of pass-through streams that
	// ended in an exception to their ends (streamBody.drain).
	drains detach.Group
}

var _ Backend = (*Bedrock)(nil)

// NewBedrock loads the AWS configuration (default credential chain unless
// cfg.Credentials is set) and returns the adapter. It makes no request.
func NewBedrock(ctx context.Context, cfg BedrockConfig) (*Bedrock, error) {
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	if cfg.FirstByteTimeout == 0 {
		cfg.FirstByteTimeout = 60 * time.Second
	}
	if cfg.StreamIdleTimeout == 0 {
		cfg.StreamIdleTimeout = DefaultStreamIdleTimeout
	}
	cfg.Clock = clock.Or(cfg.Clock)
	b := &Bedrock{cfg: cfg, family: bedrockmodel.FamilyOf(cfg.Model)}
	if cfg.Family != "" {
		f, ok := bedrockmodel.ParseFamily(cfg.Family)
		if !ok {
			return nil, fmt.Errorf("bedrock family %q is not one of %s", cfg.Family, strings.Join(bedrockmodel.FamilyNames(), ", "))
		}
		b.family = f
	}
	opts := []func(*config.LoadOptions) error{config.WithRegion(cfg.Region), config.WithRetryMaxAttempts(1)}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		// Keep the SDK's buildable client (it carries AWS_CA_BUNDLE and
		// proxy settings) and add the deployment's timeouts.
		bc, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient)
		if !ok {
			bc = awshttp.NewBuildableClient()
		}
		// The first-byte time-out is not the transport's
		// ResponseHeaderTimeout but runs on cfg.Clock (doWithin).
		hc = bc.WithDialerOptions(func(d *net.Dialer) { d.Timeout = cfg.ConnectTimeout }).
			WithTransportOptions(func(tr *http.Transport) {
				tr.ResponseHeaderTimeout = 0
				tr.TLSHandshakeTimeout = cfg.ConnectTimeout
				tr.MaxIdleConnsPerHost = 512
			})
	}
	b.creds, b.http = awsCfg.Credentials, hc
	if b.creds == nil {
		b.creds = aws.AnonymousCredentials{}
	}
	b.client = bedrockruntime.NewFromConfig(awsCfg, func(o *bedrockruntime.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.HTTPClient = sdkClient{HTTPClient: hc, clock: cfg.Clock, firstByte: cfg.FirstByteTimeout}
		o.RetryMaxAttempts = 1
	})
	return b, nil
}

// sdkClient is the SDK's HTTP client: it hands net/http a request body
// that reads its end cleanly once the SDK has closed it.
//
// net/http sends a body of known length, then reads it on to its end to
// check that nothing is left over (with io.Copy, which prefers the body's
// WriteTo). Over HTTP/1.1 the body has gone straight to the connection
// by then (the headers were flushed before it), so the answer may arrive
// first: Do returns, the SDK closes the body, and its WriteTo then reports
// io.EOF as an error (its Read reports the end). net/http took that for a
// failed write and closed the connection: during the stream that was
// using it, which failed, or before the next request could take it from
// the pool, which dialled (and, to Bedrock, shook hands) again. The
// quicker the answer, the likelier: on loopback one stream in seven.
// Hiding WriteTo makes that read use Read. The pass-through's bodies are
// net/http's own (bytes.Reader) and need no such care.
//
// It also bounds the wait for the response's headers by the first-byte
// time-out on the backend's clock (doWithin), for Converse,
// ConverseStream and every other call the SDK makes.
type sdkClient struct {
	bedrockruntime.HTTPClient
	clock     clock.Clock
	firstByte time.Duration
}

// Do sends r, the SDK's request built for this call alone.
func (c sdkClient) Do(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = readOnlyBody{r.Body}
	}
	return doWithin(c.HTTPClient, r, c.clock, c.firstByte)
}

// readOnlyBody hides every method of a request body but Read and Close.
type readOnlyBody struct{ io.ReadCloser }

// Close implements Backend. It cuts short the reads of stream bodies
// still waiting for their ends (streamBody.drain) and returns once
// they have let their requests go.
func (b *Bedrock) Close() error {
	b.drains.Close()
	// The SDK's buildable client owns its transport; idle connections
	// close after its idle timeout.
	return nil
}

// converseParts translates the canonical request into Converse's members.
func (b *Bedrock) converseParts(req *inference.Request) ([]types.SystemContentBlock, []types.Message, *types.InferenceConfiguration) {
	var system []types.SystemContentBlock
	var msgs []types.Message
	for _, m := range req.Messages {
		if m.Role == inference.RoleSystem {
			system = append(system, &types.SystemContentBlockMemberText{Value: m.Text()})
			continue
		}
		role := types.ConversationRoleUser
		if m.Role == inference.RoleAssistant {
			role = types.ConversationRoleAssistant
		}
		content := make([]types.ContentBlock, 0, len(m.Content))
		for _, bl := range m.Content {
			content = append(content, &types.ContentBlockMemberText{Value: bl.Text})
		}
		msgs = append(msgs, types.Message{Role: role, Content: content})
	}
	var ic *types.InferenceConfiguration
	if req.MaxTokens > 0 || req.Temperature != nil || req.TopP != nil || len(req.Stop) > 0 {
		ic = &types.InferenceConfiguration{StopSequences: req.Stop}
		if req.MaxTokens > 0 {
			ic.MaxTokens = aws.Int32(int32(min(req.MaxTokens, 1<<31-1)))
		}
		if req.Temperature != nil {
			ic.Temperature = aws.Float32(float32(*req.Temperature))
		}
		if req.TopP != nil {
			ic.TopP = aws.Float32(float32(*req.TopP))
		}
	}
	return system, msgs, ic
}

// Complete implements Backend with Converse.
func (b *Bedrock) Complete(ctx context.Context, req *inference.Request) (*inference.Response, error) {
	if req.Dialect == inference.DialectOpenAIEmbeddings {
		return b.embed(ctx, req)
	}
	if op, body, d, err := b.plan(req, false); err != nil || op != "" {
		if err != nil {
			return nil, err
		}
		hdr, err := passThroughHeaders(op, req, b.cfg.ServiceTiers)
		if err != nil {
			return nil, err
		}
		return b.completeRaw(ctx, op, body, d, hdr)
	}
	req, err := req.Canonical(inference.DialectConverse)
	if err != nil {
		return nil, err
	}
	system, msgs, ic := b.converseParts(req)
	start := b.cfg.Clock.Now()
	out, err := b.client.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(b.cfg.Model), System: system, Messages: msgs, InferenceConfig: ic,
		RequestMetadata: req.Metadata, ServiceTier: converseTier(req, b.cfg.ServiceTiers)})
	if err != nil {
		return nil, bedrockError(ctx, err, b.cfg.Clock.Now())
	}
	resp := &inference.Response{Model: b.cfg.Model, StopReason: stopReasonOf(out.StopReason), Latency: b.cfg.Clock.Now().Sub(start)}
	if out.ServiceTier != nil {
		resp.ServiceTier = reportedTier(string(out.ServiceTier.Type))
	}
	resp.Message.Role = inference.RoleAssistant
	if m, ok := out.Output.(*types.ConverseOutputMemberMessage); ok {
		for _, c := range m.Value.Content {
			if t, ok := c.(*types.ContentBlockMemberText); ok {
				resp.Message.Content = append(resp.Message.Content, inference.Block{Text: t.Value})
			}
		}
	}
	if out.Usage != nil {
		resp.Usage = inference.Usage{InputTokens: int(aws.ToInt32(out.Usage.InputTokens)), OutputTokens: int(aws.ToInt32(out.Usage.OutputTokens)),
			CacheReadInputTokens: int(aws.ToInt32(out.Usage.CacheReadInputTokens)), CacheWriteInputTokens: int(aws.ToInt32(out.Usage.CacheWriteInputTokens))}
	}
	if out.Metrics != nil && out.Metrics.LatencyMs != nil {
		resp.Latency = time.Duration(*out.Metrics.LatencyMs) * time.Millisecond
	}
	return resp, nil
}

func stopReasonOf(s types.StopReason) inference.StopReason {
	switch s {
	case types.StopReasonMaxTokens, types.StopReasonModelContextWindowExceeded:
		return inference.StopMaxTokens
	case types.StopReasonStopSequence:
		return inference.StopSequence
	case types.StopReasonContentFiltered, types.StopReasonGuardrailIntervened:
		return inference.StopContentFiltered
	}
	return inference.StopEndTurn
}

// Stream implements Backend with ConverseStream. It returns once the first
// event has arrived, so that a failure before it can fail over.
func (b *Bedrock) Stream(ctx context.Context, req *inference.Request) (inference.Stream, error) {
	if op, body, d, err := b.plan(req, true); err != nil || op != "" {
		if err != nil {
			return nil, err
		}
		hdr, err := passThroughHeaders(op, req, b.cfg.ServiceTiers)
		if err != nil {
			return nil, err
		}
		return b.streamRaw(ctx, op, body, d, hdr)
	}
	req, err := req.Canonical(inference.DialectConverse)
	if err != nil {
		return nil, err
	}
	system, msgs, ic := b.converseParts(req)
	ctx, cancel := context.WithCancel(ctx)
	out, err := b.client.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(b.cfg.Model), System: system, Messages: msgs, InferenceConfig: ic,
		RequestMetadata: req.Metadata, ServiceTier: converseTier(req, b.cfg.ServiceTiers)})
	if err != nil {
		cancel()
		return nil, bedrockError(ctx, err, b.cfg.Clock.Now())
	}
	// The first event is awaited within the idle time-out too: the
	// response headers were the last sign of life.
	s := newBedrockStream(ctx, cancel, out.GetStream(), min(b.cfg.FirstByteTimeout, b.cfg.StreamIdleTimeout), b.cfg.Clock)
	first, err := s.Recv()
	if err != nil && !errors.Is(err, io.EOF) {
		s.Close()
		return nil, err
	}
	s.idle = b.cfg.StreamIdleTimeout
	s.first, s.firstErr, s.primed = first, err, true
	return s, nil
}

// newBedrockStream returns a stream whose idle timer runs on clk (nil:
// clock.Wall).
func newBedrockStream(ctx context.Context, cancel context.CancelFunc, es eventSource, idle time.Duration, clk clock.Clock) *bedrockStream {
	s := &bedrockStream{ctx: ctx, cancel: cancel, es: es, idle: idle, clock: clock.Or(clk)}
	s.timer, s.timedOut = s.clock.NewTimer(time.Hour)
	s.timer.Stop()
	return s
}

// eventSource is the part of the SDK's ConverseStreamEventStream that
// bedrockStream reads.
type eventSource interface {
	Events() <-chan types.ConverseStreamOutput
	Err() error
	Close() error
}

// bedrockStream adapts the SDK's event stream to inference.Stream.
type bedrockStream struct {
	ctx    context.Context
	cancel context.CancelFunc
	es     eventSource

	primed   bool // first/firstErr hold the event read by Stream
	first    inference.Event
	firstErr error
	// idle bounds each wait for an event.
	idle time.Duration
	// timer, re-armed for each wait, sends on timedOut when it ends.
	timer    clock.Timer
	timedOut <-chan time.Time
	once     sync.Once
	// clock runs the idle timer and is the base of a Retry-After date in
	// a stream error.
	clock clock.Clock
}

func (s *bedrockStream) now() time.Time { return s.clock.Now() }

// Recv implements inference.Stream.
func (s *bedrockStream) Recv() (inference.Event, error) {
	if s.primed {
		s.primed = false
		return s.first, s.firstErr
	}
	s.timer.Reset(s.idle)
	defer s.timer.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return inference.Event{}, bedrockError(s.ctx, s.ctx.Err(), s.now())
		case <-s.timedOut:
			s.cancel()
			return inference.Event{}, &inference.Error{Kind: inference.KindTimeout, Message: "Amazon Bedrock stopped sending (no event for " + s.idle.String() + ")"}
		case ev, ok := <-s.es.Events():
			if !ok {
				if err := s.es.Err(); err != nil {
					return inference.Event{}, bedrockError(s.ctx, err, s.now())
				}
				return inference.Event{}, io.EOF
			}
			if e, ok := CanonicalEvent(ev); ok {
				return e, nil
			}
		}
	}
}

// Close implements inference.Stream.
func (s *bedrockStream) Close() error {
	s.once.Do(func() {
		s.timer.Stop()
		s.cancel()
		s.es.Close()
	})
	return nil
}

// CanonicalEvent turns one ConverseStream event into a canonical event.
// Events without a canonical counterpart (content block start and stop,
// unknown members) report false.
func CanonicalEvent(ev types.ConverseStreamOutput) (inference.Event, bool) {
	switch v := ev.(type) {
	case *types.ConverseStreamOutputMemberMessageStart:
		return inference.Event{Kind: inference.EventStart}, true
	case *types.ConverseStreamOutputMemberContentBlockDelta:
		if t, ok := v.Value.Delta.(*types.ContentBlockDeltaMemberText); ok {
			return inference.Event{Kind: inference.EventDelta, Text: t.Value}, true
		}
	case *types.ConverseStreamOutputMemberMessageStop:
		return inference.Event{Kind: inference.EventStop, StopReason: stopReasonOf(v.Value.StopReason)}, true
	case *types.ConverseStreamOutputMemberMetadata:
		u := &inference.Usage{}
		if v.Value.Usage != nil {
			u.InputTokens, u.OutputTokens = int(aws.ToInt32(v.Value.Usage.InputTokens)), int(aws.ToInt32(v.Value.Usage.OutputTokens))
			u.CacheReadInputTokens, u.CacheWriteInputTokens = int(aws.ToInt32(v.Value.Usage.CacheReadInputTokens)), int(aws.ToInt32(v.Value.Usage.CacheWriteInputTokens))
		}
		return inference.Event{Kind: inference.EventUsage, Usage: u}, true
	}
	return inference.Event{}, false
}

// bedrockError maps an SDK error to a typed *inference.Error, so that
// throttling cools the deployment down (with Retry-After when Bedrock sent
// one) and failover skips it.
func bedrockError(ctx context.Context, err error, now time.Time) error {
	e := &inference.Error{Kind: inference.KindUpstream, Message: "Amazon Bedrock returned an error", Err: err}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		e.UpstreamStatus = re.Response.StatusCode
		e.RetryAfter = RetryAfter(re.Response.Header, now)
	}
	var (
		throttling  *types.ThrottlingException
		quota       *types.ServiceQuotaExceededException
		unavailable *types.ServiceUnavailableException
		notReady    *types.ModelNotReadyException
		timeout     *types.ModelTimeoutException
		validation  *types.ValidationException
		internal    *types.InternalServerException
		api         smithy.APIError
	)
	switch {
	case errors.As(err, &throttling), errors.As(err, &quota):
		e.Kind, e.Message = inference.KindThrottled, "Amazon Bedrock throttled the request"
	case errors.As(err, &unavailable), errors.As(err, &notReady):
		e.Kind, e.Message = inference.KindUnavailable, "Amazon Bedrock is unavailable for this model"
	case errors.As(err, &timeout):
		e.Kind, e.Message = inference.KindTimeout, "Amazon Bedrock did not answer in time"
	case errors.As(err, &validation):
		// The caller's request was translated faithfully, so Bedrock's
		// reason is the caller's to see.
		e.Kind, e.Message = inference.KindInvalidRequest, "Amazon Bedrock rejected the request: "+validation.ErrorMessage()
	case errors.As(err, &internal):
		e.Message = "Amazon Bedrock had an internal error"
	case errors.As(err, &api):
		// AccessDenied, ResourceNotFound and the like describe the
		// deployment's credentials or model id, not the caller: another
		// destination may serve, and the caller must not learn details.
		e.Message = "Amazon Bedrock refused the deployment's request (" + api.ErrorCode() + ")"
	case ctx.Err() != nil:
		e.Kind, e.Message = inference.KindTimeout, "the Amazon Bedrock call was cancelled or timed out"
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			e.Kind, e.Message = inference.KindTimeout, "Amazon Bedrock did not answer in time"
		} else {
			e.Kind, e.Message = inference.KindUnavailable, "Amazon Bedrock could not be reached"
		}
	}
	return e
}
