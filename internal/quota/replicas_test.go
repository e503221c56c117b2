package quota

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestReplicasOverHTTP is the replicas' exactness test as close as this
// package gets to it: three replica servers over real sockets, each with its
// own Redis client, a key with 60 requests per minute, 200 concurrent
// requests spread over them. Exactly 60 succeed; the rest get 429 with a
// Retry-After and the OpenAI headers. (The full test, through the gateway's
// handler, belongs to the gateway.)
func TestReplicasOverHTTP(t *testing.T) {
	srv := startRedis(t)
	testReplicasOverHTTP(t, RedisConfig{URL: srv.url(), KeyPrefix: "http:"})
}

// TestRedisClusterReplicasOverHTTP is the same on a Redis Cluster.
func TestRedisClusterReplicasOverHTTP(t *testing.T) {
	c := sharedRedisCluster(t)
	testReplicasOverHTTP(t, RedisConfig{URL: c.url(), KeyPrefix: "http:", Cluster: true})
}

func testReplicasOverHTTP(t *testing.T, rc RedisConfig) {
	req := Request{Principal: "key-60rpm", Limits: Limits{RPM: 60, TPM: 100000}, Model: "demo.chat-small",
		Deployment: "eu-west-1/demo.chat-small", Capacity: Capacity{MaxConcurrency: 500}, InputTokens: 50, MaxTokens: 100}
	var urls []string
	for range 3 {
		l, err := Open(Config{Store: StoreRedis, Redis: rc}, Options{Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res, err := l.Admit(r.Context(), req)
			var le *LimitError
			if errors.As(err, &le) {
				le.SetHeaders(w.Header())
				http.Error(w, le.Message(), http.StatusTooManyRequests)
				return
			}
			if err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			defer res.Release(r.Context())
			res.Status().SetHeaders(w.Header())
			w.WriteHeader(http.StatusOK)
			res.Commit(r.Context(), inference.Usage{InputTokens: 48, OutputTokens: 70})
		})
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		urls = append(urls, s.URL)
	}

	type result struct {
		status int
		h      http.Header
	}
	results := make([]result, 200)
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			resp, err := http.Post(urls[i%3]+"/v1/chat/completions", "application/json", nil)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			results[i] = result{resp.StatusCode, resp.Header}
		})
	}
	wg.Wait()

	counts := map[int]int{}
	for i, r := range results {
		counts[r.status]++
		if r.h.Get(HeaderLimitRequests) != "60" {
			t.Errorf("response %d (%d): %s = %q, want 60", i, r.status, HeaderLimitRequests, r.h.Get(HeaderLimitRequests))
		}
		if r.status != http.StatusTooManyRequests {
			continue
		}
		ra, err := strconv.Atoi(r.h.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 60 {
			t.Errorf("response %d: Retry-After = %q, want 1..60 seconds", i, r.h.Get("Retry-After"))
		}
		if got := r.h.Get(HeaderRemainingRequests); got != "0" {
			t.Errorf("response %d: %s = %q on a 429, want 0", i, HeaderRemainingRequests, got)
		}
	}
	if counts[http.StatusOK] != 60 || counts[http.StatusTooManyRequests] != 140 {
		t.Errorf("statuses %v, want exactly 60 × 200 and 140 × 429", counts)
	}
}
