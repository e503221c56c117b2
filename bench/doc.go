// Package bench measures what Meridian adds to a request on loopback: it
// starts a zero-think-time mockllm upstream, a bare
// [net/http/httputil.ReverseProxy] in front of it, and two Meridian nodes of
// one geography (every feature on: API keys, policies, quota limits, the
// audit trail with interval fsync, metrics, logs, the mTLS link), then drives
// identical requests at each: one at a time, with an open-loop,
// constant-arrival-rate load generator, and with a closed loop holding a
// fixed number of requests in flight. It reports latency added over the
// direct path, the highest error-free rate, throughput per concurrency
// level, CPU per request, and memory and goroutines at 1,000 concurrent
// streams (local and forwarded), as ratios to the bare proxy measured in the
// same run, and evaluates the project's targets on them ([Report.Targets]).
//
// The load generator and the upstream run in the caller's process; the
// bare proxy and the nodes run there too, or, with
// [Options.GatewayProcess], in a child process of their own whose CPU is
// what each path is charged (see [ServeGateway]). Everything targets
// loopback only; every run is bounded in requests and time, and every child
// is stopped however the run ends. The package must not listen on anything
// but 127.0.0.1, nor send load anywhere else.
package bench
