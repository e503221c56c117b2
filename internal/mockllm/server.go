package mockllm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/meridian-gateway/meridian/internal/clock"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a simulated OpenAI-compatible model server. Create it with
// [New]; mount [Server.Handler] on any listener or call [Server.Serve].
// All methods are safe for concurrent use, including the run-time controls
// ([Server.SetDown], [Server.SetThrottled], ...), which take effect for
// requests that arrive after they return.
type Server struct {
	seed             int64
	completionTokens int
	apiKey           string
	drainTimeout     time.Duration
	clock            Clock
	log              *slog.Logger
	models           map[string]bool // nil: any model
	modelList        []byte          // the body of GET /v1/models
	created          int64           // the models' "created" timestamp
	handler          http.Handler

	mu  sync.Mutex               // serializes writers of cur
	cur atomic.Pointer[settings] // read by every request without locking

	win   window
	stats counters
	// cache is the simulated prompt cache (cache.go).
	cache promptCache

	// arrivals numbers the requests that reach fault injection, so that
	// failure draws depend only on the seed and the arrival order.
	arrivals atomic.Uint64
	tokens   sync.Pool // *[]string, completion plans
	bufs     sync.Pool // *[]byte, request bodies and encoded responses

	// testHookDone, if set, runs when a chat completion request ends.
	testHookDone func()

	received func(path string, body []byte) // Config.Received
	// serviceTiers and servedTier are Config.ServiceTiers (or
	// DefaultServiceTiers) and Config.ServedTier.
	serviceTiers map[string][]string
	servedTier   string
	// tiersByPart matches serviceTiers' keys as parts of a model id (the
	// default table).
	tiersByPart bool
	// receivedMetadata is Config.ReceivedMetadata.
	receivedMetadata func(path string, metadata map[string]string)
}

// settings are the knobs that can change at run time. A value is never
// modified once published in Server.cur.
type settings struct {
	ttft           time.Duration
	tps            float64
	maxConcurrency int
	limits         limits
	failRate       float64
	failStatus     int
	abortAfter     int
	down           bool
	throttle       time.Duration // > 0: answer every request with 429
}

// counters back [Stats].
type counters struct {
	requests, served, inFlight, throttled, failed, invalid, canceled atomic.Int64
	promptTokens, completionTokens                                   atomic.Int64
}

// Stats counts what a [Server] did since it was created.
type Stats struct {
	// Requests is the number of chat completion requests received.
	Requests int64 `json:"requests"`
	// Served is the number that completed (including those cut short by
	// max_tokens or a stop sequence).
	Served int64 `json:"served"`
	// InFlight is the number being served now.
	InFlight int64 `json:"in_flight"`
	// Throttled is the number refused with 429 by a limit or SetThrottled.
	Throttled int64 `json:"throttled"`
	// Failed is the number answered with an injected failure, cut by
	// AbortAfterTokens or, while down, answered with 503.
	Failed int64 `json:"failed"`
	// Invalid is the number rejected as malformed, unauthenticated or for
	// an unknown model.
	Invalid int64 `json:"invalid"`
	// Canceled is the number whose client went away before the end.
	Canceled int64 `json:"canceled"`
	// PromptTokens and CompletionTokens sum the usage of requests that
	// started generating; a canceled stream counts the tokens it sent.
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
}

// New returns a server for cfg. It panics if cfg.Validate reports a problem:
// callers that take settings from users validate first, as the CLI does.
func New(cfg Config) *Server {
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("mockllm.New: invalid config: %v", err))
	}
	s := &Server{
		seed:             cfg.Seed,
		completionTokens: cfg.CompletionTokens,
		apiKey:           cfg.APIKey,
		drainTimeout:     cfg.DrainTimeout,
		clock:            cfg.Clock,
		log:              cfg.Logger,
		received:         cfg.Received,
		receivedMetadata: cfg.ReceivedMetadata,
		serviceTiers:     cfg.ServiceTiers,
		servedTier:       cfg.ServedTier,
	}
	if s.serviceTiers == nil {
		s.serviceTiers, s.tiersByPart = DefaultServiceTiers, true
	}
	if s.clock == nil {
		s.clock = clock.Wall
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.drainTimeout == 0 {
		s.drainTimeout = 5 * time.Second
	}
	failStatus := cfg.FailStatus
	if failStatus == 0 {
		failStatus = http.StatusInternalServerError
	}
	s.cur.Store(&settings{
		ttft:           cfg.TTFT,
		tps:            cfg.TokensPerSecond,
		maxConcurrency: cfg.MaxConcurrency,
		limits:         limits{rpm: cfg.RPM, tpm: cfg.TPM},
		failRate:       cfg.FailRate,
		failStatus:     failStatus,
		abortAfter:     cfg.AbortAfterTokens,
	})
	s.created = s.clock.Now().Unix()
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: []model{}}
	if len(cfg.Models) > 0 {
		s.models = make(map[string]bool, len(cfg.Models))
		for _, m := range cfg.Models {
			s.models[m] = true
			list.Data = append(list.Data, model{ID: m, Object: "model", Created: s.created, OwnedBy: "mockllm"})
		}
	}
	s.modelList, _ = json.Marshal(list)
	s.tokens.New = func() any { b := make([]string, 0, 64); return &b }
	s.bufs.New = func() any { b := make([]byte, 0, 4096); return &b }

	mux := http.NewServeMux()
	handlers := map[string]http.HandlerFunc{
		"POST /v1/chat/completions":  s.serveChat,
		"POST /v1/embeddings":        s.serveEmbeddings,
		"GET /v1/models":             s.serveModels,
		"GET /v1/models/{model...}":  s.serveModel,
		"POST /model/{modelId}/{op}": s.serveBedrock,
		"GET /healthz":               s.serveHealth,
		"GET /mockllm/v1/control":    s.serveControl,
		"POST /mockllm/v1/control":   s.serveControl,
	}
	for _, p := range routes {
		mux.HandleFunc(p, handlers[p])
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		(&apiError{status: http.StatusNotFound, typ: "invalid_request_error",
			message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path)}).write(w)
	})
	s.handler = mux
	return s
}

// routes are the patterns [Server.Handler] serves.
var routes = []string{"POST /v1/chat/completions", "POST /v1/embeddings", "GET /v1/models", "GET /v1/models/{model...}",
	"POST /model/{modelId}/{op}", "GET /healthz", "GET /mockllm/v1/control", "POST /mockllm/v1/control"}

// Endpoints describes, for `meridian mockllm -h`, every route
// [Server.Handler] serves (TestEndpointsListed keeps them in step).
const Endpoints = `Serves, in OpenAI's shapes:
  GET  /v1/models, /v1/models/{id}
  POST /v1/chat/completions   (streaming too; tools, structured output, n,
                               logprobs with top_logprobs, reasoning)
  POST /v1/embeddings
and in Amazon Bedrock's (SigV4 is not checked):
  POST /model/{modelId}/converse, /model/{modelId}/converse-stream
  POST /model/{modelId}/invoke, /model/{modelId}/invoke-with-response-stream
       (Anthropic Messages, Llama, Mistral, Titan Text and Nova bodies;
        Titan and Cohere embedding models)
plus GET /healthz and GET|POST /mockllm/v1/control (POST {"down":true},
{"throttle":"5s"}, {"fail_rate":0.5}, ...). The throttle, the limits and
the injected failures apply to every model endpoint above. Prompts of
1024 tokens or more are cached: OpenAI's automatically, Bedrock's at
cachePoint and cache_control markers.
`

// Handler returns the server's HTTP handler. It serves /v1/models,
// /v1/models/{id}, /v1/chat/completions, /v1/embeddings, the Bedrock
// routes /model/{modelId}/{converse,converse-stream,invoke,
// invoke-with-response-stream}, /healthz and /mockllm/v1/control, and
// OpenAI's JSON 404 for anything else.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on the TCP address addr and calls [Server.Serve].
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve answers HTTP requests on ln until ctx is cancelled, then stops
// accepting, lets in-flight requests finish for up to Config.DrainTimeout,
// aborts the rest and returns nil once every handler has returned. It closes
// ln. It returns an error only if serving fails for another reason.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Handlers get a context that outlives ctx until the drain ends, so that
	// a clean shutdown does not cut streams short.
	base, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	var handlers sync.WaitGroup
	hs := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			handlers.Add(1)
			defer handlers.Done()
			s.handler.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	drained := false
	if s.drainTimeout > 0 {
		dctx, cancel := context.WithTimeout(context.Background(), s.drainTimeout)
		drained = hs.Shutdown(dctx) == nil
		cancel()
	}
	if !drained {
		abort()
		hs.Close()
	}
	<-errc // http.ErrServerClosed
	handlers.Wait()
	return nil
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Requests:         c.requests.Load(),
		Served:           c.served.Load(),
		InFlight:         c.inFlight.Load(),
		Throttled:        c.throttled.Load(),
		Failed:           c.failed.Load(),
		Invalid:          c.invalid.Load(),
		Canceled:         c.canceled.Load(),
		PromptTokens:     c.promptTokens.Load(),
		CompletionTokens: c.completionTokens.Load(),
	}
}

func (s *Server) serveModels(w http.ResponseWriter, r *http.Request) {
	if e := s.gate(r); e != nil {
		e.write(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.modelList)
}

func (s *Server) serveModel(w http.ResponseWriter, r *http.Request) {
	if e := s.gate(r); e != nil {
		e.write(w)
		return
	}
	id := r.PathValue("model")
	if s.models != nil && !s.models[id] {
		modelNotFound(id).write(w)
		return
	}
	b, _ := json.Marshal(map[string]any{"id": id, "object": "model", "created": s.created, "owned_by": "mockllm"})
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if s.cur.Load().down {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("down\n"))
		return
	}
	w.Write([]byte("ok\n"))
}

// gate checks the API key and the outage switch for the /v1 endpoints.
func (s *Server) gate(r *http.Request) *apiError {
	if s.apiKey != "" {
		key := r.Header.Get("Api-Key") // Azure OpenAI's header
		if a := r.Header.Get("Authorization"); len(a) > 7 && (a[:7] == "Bearer " || a[:7] == "bearer ") {
			key = a[7:]
		}
		if key != s.apiKey {
			return &apiError{status: http.StatusUnauthorized, typ: "invalid_request_error", code: "invalid_api_key",
				message: "Incorrect API key provided. You can find your API key in the mockllm configuration."}
		}
	}
	if s.cur.Load().down {
		return errDown
	}
	return nil
}

func modelNotFound(model string) *apiError {
	return &apiError{status: http.StatusNotFound, typ: "invalid_request_error", code: "model_not_found",
		message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", model)}
}

// errBodyTooLarge is the 413 for request bodies over maxBody.
var errBodyTooLarge = &apiError{status: http.StatusRequestEntityTooLarge, typ: "invalid_request_error",
	message: "Request body too large: the limit is 8 MiB."}

// maxBody bounds request bodies.
const maxBody = 8 << 20

// readBody reads r's body into a pooled buffer; callers return it with
// s.bufs.Put.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, *apiError) {
	bp := s.bufs.Get().(*[]byte)
	b := (*bp)[:0]
	body := http.MaxBytesReader(w, r.Body, maxBody)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			*bp = b
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &mbe):
				return bp, errBodyTooLarge
			case errors.Is(err, io.EOF):
				if s.received != nil {
					s.received(r.URL.Path, bytes.Clone(b))
				}
				return bp, nil
			}
			return bp, invalidRequest("", "", "We could not read the body of your request.")
		}
	}
}
