package openai

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/backend"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/routing"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// recordings hands each finished request's record to the test.
type recordings chan *gateway.Record

func (r recordings) Record(_ context.Context, rec *gateway.Record) error {
	c := *rec
	r <- &c
	return nil
}

// TestClientHangUpMidStream: a client that closes its connection in the
// middle of a stream, over real sockets (client → front end → OpenAI
// adapter → upstream), is recorded as client_closed with the tokens it was
// sent, and never counts against the deployment's health, however many
// times it happens.
func TestClientHangUpMidStream(t *testing.T) {
	t.Parallel()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for i := range 3 {
			fmt.Fprintf(w, "data: {\"id\":\"u\",\"choices\":[{\"delta\":{\"content\":%q}}]}\n\n", strings.Repeat("word", 10)+fmt.Sprint(i))
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done() // more tokens would follow; the caller leaves first
	}))
	defer upstream.Close()
	cfg, err := topology.Parse(fmt.Appendf(nil, `account: "111122223333"
geographies: { eu: { name: EU } }
regions: [ { id: eu-west-1, geography: eu, location: { lat: 1, lon: 1 }, listen: "127.0.0.1:1", link: "127.0.0.1:2" } ]
models: [ { id: m } ]
deployments: [ { model: m, region: eu-west-1, backend: { type: mock } } ]
principals: [ { id: p, api_keys: [%q] } ]
`, auth.HashKey(testKey)), "hangup.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := backend.NewOpenAI(backend.OpenAIConfig{BaseURL: upstream.URL + "/v1", Model: "m"})
	defer b.Close()
	recs := make(recordings, 1)
	g, err := gateway.New(gateway.Options{Region: "eu-west-1", Config: cfg, Authorizer: gateway.AllowAll{}, Backends: map[string]gateway.Backend{"m": b}, Recorder: recs})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	New(g, Options{}).Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	for i := range 4 { // one more than the circuit's failure threshold
		ctx, cancel := context.WithCancel(t.Context())
		r, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"tell me a story"}]}`))
		r.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		for got := 0; got < 3; { // the three deltas, passed through as sent
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("hang-up %d: reading the stream: %v", i, err)
			}
			if strings.HasPrefix(line, "data: ") {
				got++
			}
		}
		cancel() // the client hangs up
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()

		var rec *gateway.Record
		select {
		case rec = <-recs:
		case <-time.After(time.Minute): // hang guard only
			t.Fatalf("hang-up %d: the request was never recorded", i)
		}
		if rec.ErrorCode != "client_closed" || rec.Usage.OutputTokens < 30 {
			t.Errorf("hang-up %d: recorded errorCode %q usage %+v, want client_closed with the ~30 tokens streamed", i, rec.ErrorCode, rec.Usage)
		}
		st, _ := g.Routing().Tracker.State(routing.Key{Region: "eu-west-1", Model: "m"})
		if st.ErrorRate != 0 || st.Circuit != routing.CircuitClosed || !st.CooldownUntil.IsZero() {
			t.Fatalf("hang-up %d: deployment error rate %v, circuit %v, cooldown until %v; want it untouched", i, st.ErrorRate, st.Circuit, st.CooldownUntil)
		}
	}
}
