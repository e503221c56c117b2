package bedrock_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// clientTransport is a way the official Go SDK reaches a node: HTTP/1.1,
// its default over http://, or HTTP/2 with prior knowledge (h2c), what
// HTTP/2-only clients such as the JavaScript SDK use.
type clientTransport struct {
	name  string
	proto string // the Proto of every response
	new   func() *http.Transport
}

var clientTransports = []clientTransport{
	{"http1", "HTTP/1.1", func() *http.Transport {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetHTTP1(true)
		return tr
	}},
	{"h2c", "HTTP/2.0", func() *http.Transport {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		return tr
	}},
}

// doer is what the SDK clients' HTTPClient option takes.
type doer interface {
	Do(*http.Request) (*http.Response, error)
}

// transportOf maps the name of a test run by overTransports to its
// recording transport.
var transportOf sync.Map // string -> *protoRecorder

// overTransports runs test once per client transport, as subtests. Every
// SDK client the cluster helpers build within a subtest (or its own
// subtests) uses that subtest's transport, and every response it receives
// must have come over it.
func overTransports(t *testing.T, test func(t *testing.T)) {
	for _, ct := range clientTransports {
		t.Run(ct.name, func(t *testing.T) {
			rec := &protoRecorder{next: ct.new()}
			transportOf.Store(t.Name(), rec)
			defer transportOf.Delete(t.Name())
			defer rec.next.CloseIdleConnections()
			test(t)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.n == 0 {
				t.Errorf("no response came over %s", ct.name)
			}
			for proto, n := range rec.protos {
				if proto != ct.proto {
					t.Errorf("%d responses came over %s, want %s", n, proto, ct.proto)
				}
			}
		})
	}
}

// httpClient returns the HTTP client of the transport overTransports chose
// for c's test, or nil (the SDK's default) outside overTransports.
func (c *cluster) httpClient() doer {
	name := c.t.Name()
	for {
		if rec, ok := transportOf.Load(name); ok {
			return &http.Client{Transport: rec.(*protoRecorder)}
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return nil
		}
		name = name[:i]
	}
}

// protoRecorder counts the protocols of the responses it carries.
type protoRecorder struct {
	next   *http.Transport
	mu     sync.Mutex
	n      int
	protos map[string]int
}

func (r *protoRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		if r.protos == nil {
			r.protos = map[string]int{}
		}
		r.n++
		r.protos[resp.Proto]++
		r.mu.Unlock()
	}
	return resp, err
}
