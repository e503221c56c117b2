// Package inferencetest holds test doubles of the inference vocabulary
// that several packages' tests share: a stream fed through a channel, the
// backend that returns it, and a response writer that counts flushes.
package inferencetest

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// ChanStream yields the events sent on it until it is closed, then io.EOF.
// It is an inference.Readier: Ready while an event waits in the channel,
// which makes it the stream of a test that decides when each event
// "arrives" (buffer the channel to send several at once).
type ChanStream chan inference.Event

// Recv implements inference.Stream.
func (s ChanStream) Recv() (inference.Event, error) {
	ev, ok := <-s
	if !ok {
		return inference.Event{}, io.EOF
	}
	return ev, nil
}

// Ready implements inference.Readier.
func (s ChanStream) Ready() bool { return len(s) > 0 }

// Close implements inference.Stream.
func (s ChanStream) Close() error { return nil }

// ChanBackend streams every request from Events (one stream shares them
// all) and refuses non-streaming requests. It has the methods of
// gateway.Backend.
type ChanBackend struct{ Events ChanStream }

// Complete refuses: the backend streams only.
func (b *ChanBackend) Complete(context.Context, *inference.Request) (*inference.Response, error) {
	return nil, &inference.Error{Kind: inference.KindInternal, Message: "this test backend streams only"}
}

// Stream returns Events.
func (b *ChanBackend) Stream(context.Context, *inference.Request) (inference.Stream, error) {
	return b.Events, nil
}

// Close does nothing.
func (b *ChanBackend) Close() error { return nil }

// FlushCounter counts the flushes of the response it wraps (N, shared by
// every response of a server); http.ResponseController reaches the
// wrapped writer through Unwrap.
type FlushCounter struct {
	http.ResponseWriter
	N *atomic.Int64
}

// Flush counts and flushes.
func (f FlushCounter) Flush() {
	f.N.Add(1)
	f.ResponseWriter.(http.Flusher).Flush()
}

// Unwrap returns the wrapped writer.
func (f FlushCounter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// CountFlushes wraps h so that every response's flushes are counted in n.
func CountFlushes(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(FlushCounter{w, n}, r) })
}

// Lockstep feeds words to events one at a time, each only once the client
// has seen the one before: Seen is given what the client reads (a line, an
// event's payload) and sends the next word when the current one shows in
// it, closing events after the last. A relay that held an event back until
// the next arrived would never show the current word, and the test would
// stall; Done tells whether every word was seen.
type Lockstep struct {
	events ChanStream
	words  []string
	// show is how a word shows in what the client reads.
	show func(word string) string
	next int
}

// NewLockstep returns a Lockstep over events and sends its first word
// (after a start event: events needs room for two). show gives how a word
// shows to the client.
func NewLockstep(events ChanStream, words []string, show func(string) string) *Lockstep {
	events <- inference.Event{Kind: inference.EventStart}
	events <- inference.Event{Kind: inference.EventDelta, Text: words[0]}
	return &Lockstep{events: events, words: words, show: show}
}

// Seen takes what the client read.
func (l *Lockstep) Seen(s string) {
	if l.next >= len(l.words) || !strings.Contains(s, l.show(l.words[l.next])) {
		return
	}
	l.next++
	if l.next == len(l.words) {
		close(l.events)
		return
	}
	l.events <- inference.Event{Kind: inference.EventDelta, Text: l.words[l.next]}
}

// Done reports how many words the client saw, and whether that is all.
func (l *Lockstep) Done() (seen int, all bool) { return l.next, l.next == len(l.words) }

// AllHere returns a closed stream whose events are all already here: a
// start, the words a, b and c, and a stop. A relay that batches what has
// arrived sends them with one flush, and one more at the end.
func AllHere() ChanStream {
	events := make(ChanStream, 5)
	for _, ev := range []inference.Event{{Kind: inference.EventStart}, {Kind: inference.EventDelta, Text: "a"},
		{Kind: inference.EventDelta, Text: "b"}, {Kind: inference.EventDelta, Text: "c"}, {Kind: inference.EventStop}} {
		events <- ev
	}
	close(events)
	return events
}
