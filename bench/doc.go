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
// Everything runs in one process and targets loopback only; every run is
// bounded in requests and time. The package must not listen on anything but
// 127.0.0.1, nor send load anywhere else.
package bench
