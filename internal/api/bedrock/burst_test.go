package bedrock

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/inference/inferencetest"
)

// TestEventWriterBurstBounded relays a burst (every event already here)
// whose events after the first inference.BurstMaxEvents are held until the
// client has decoded the first frame, over a real loopback socket: the
// event writer must send the first before it has written the rest.
func TestEventWriterBurstBounded(t *testing.T) {
	const n = 40
	payload := []byte(`{"contentBlockIndex":0,"delta":{"text":"tok"}}`)
	s := inferencetest.NewBurstStream(inference.Event{Kind: inference.EventDelta, Raw: payload}, n, inference.BurstMaxEvents)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer s.Close()
		w.Header().Set("Content-Type", ContentTypeEventStream)
		w.WriteHeader(http.StatusOK)
		ew := newEventWriter(w)
		ew.relaying = s
		for {
			if !ew.flushIdle() {
				return
			}
			ev, err := s.Recv()
			if errors.Is(err, io.EOF) {
				return
			}
			if !ew.raw("contentBlockDelta", ev.Raw) {
				return
			}
		}
	}))
	defer ts.Close()
	defer s.Release() // before ts.Close, which waits for the handler
	type first struct {
		br  *bufio.Reader
		msg eventstream.Message
		err error
	}
	got := make(chan first, 1)
	go func() {
		resp, err := ts.Client().Get(ts.URL)
		if err != nil {
			got <- first{err: err}
			return
		}
		t.Cleanup(func() { resp.Body.Close() })
		br := bufio.NewReader(resp.Body)
		msg, err := eventstream.NewDecoder().Decode(br, nil)
		got <- first{br, msg, err}
	}()
	var br *bufio.Reader
	select {
	case f := <-got:
		if f.err != nil {
			t.Fatal(f.err)
		}
		if string(f.msg.Payload) != string(payload) {
			t.Fatalf("first payload = %q, want %q", f.msg.Payload, payload)
		}
		br = f.br
	case <-time.After(10 * time.Second): // hang guard only
		t.Fatal("the first event of the burst never reached the client: the writer waited for later events")
	}
	s.Release()
	dec := eventstream.NewDecoder()
	for i := 1; i < n; i++ {
		msg, err := dec.Decode(br, nil)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if string(msg.Payload) != string(payload) {
			t.Fatalf("event %d payload = %q", i, msg.Payload)
		}
	}
	if _, err := dec.Decode(br, nil); !errors.Is(err, io.EOF) {
		t.Errorf("after %d events: %v, want io.EOF", n, err)
	}
}
