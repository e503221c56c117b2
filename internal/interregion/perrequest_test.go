package interregion

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// TestReadBody: a forwarded body of known length is read whole into one
// buffer of that length; one longer than the bound is refused before it
// is read; one of unknown length is bounded as it is read; one shorter
// than its length is an error.
func TestReadBody(t *testing.T) {
	t.Parallel()
	const limit = 16
	tests := []struct {
		name    string
		body    string
		length  int64 // the request's ContentLength; -1 unknown
		limit   int64 // readBody's; 0 for the test's
		want    string
		wantErr bool
		tooBig  bool // the error is an *http.MaxBytesError
	}{
		{name: "known length", body: "0123456789", length: 10, want: "0123456789"},
		{name: "empty", body: "", length: 0, want: ""},
		{name: "at the bound", body: strings.Repeat("x", limit), length: limit, want: strings.Repeat("x", limit)},
		{name: "length over the bound", body: strings.Repeat("x", limit+1), length: limit + 1, wantErr: true, tooBig: true},
		{name: "shorter than its length", body: "0123", length: 10, wantErr: true},
		{name: "unknown length", body: "0123456789", length: -1, want: "0123456789"},
		{name: "longer than the preallocation", body: strings.Repeat("y", maxPreallocBody+1), length: maxPreallocBody + 1, limit: 1 << 20, want: strings.Repeat("y", maxPreallocBody+1)},
		{name: "unknown length over the bound", body: strings.Repeat("x", limit+1), length: -1, wantErr: true, tooBig: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodPost, PathInvoke, strings.NewReader(tc.body))
			r.ContentLength = tc.length
			lim := int64(limit)
			if tc.limit != 0 {
				lim = tc.limit
			}
			got, err := readBody(httptest.NewRecorder(), r, lim)
			if (err != nil) != tc.wantErr {
				t.Fatalf("readBody = %.40q (%d bytes), %v; want error %v", got, len(got), err, tc.wantErr)
			}
			var mb *http.MaxBytesError
			if tc.tooBig && !errors.As(err, &mb) {
				t.Errorf("error %v, want an *http.MaxBytesError", err)
			}
			if err == nil && string(got) != tc.want {
				t.Errorf("readBody = %.40q (%d bytes), want %.40q (%d bytes)", got, len(got), tc.want, len(tc.want))
			}
		})
	}
}

// TestReadBodyAllocs: a body of known length costs one allocation, its
// buffer (io.ReadAll over a MaxBytesReader cost four).
func TestReadBodyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	body := bytes.Repeat([]byte("x"), 600)
	br := bytes.NewReader(body)
	r := &http.Request{Body: io.NopCloser(br), ContentLength: int64(len(body))}
	w := httptest.NewRecorder()
	var err error
	n := testing.AllocsPerRun(100, func() {
		br.Reset(body)
		_, err = readBody(w, r, 8<<20)
	})
	if err != nil {
		t.Fatal(err)
	}
	if n > 1 {
		t.Errorf("reading a body of known length allocates %v times, want 1", n)
	}
}

// arnCases are ARNs well formed and not, for ProfileIDFromARN against
// profile.ParseARN.
var arnCases = []string{
	"arn:aws:bedrock:eu-central-1:111122223333:inference-profile/eu.demo.chat-small",
	"arn:aws:bedrock:eu-central-1::foundation-model/demo.chat-small",
	"arn:aws:bedrock:::application-inference-profile/abc",
	"arn:aws:bedrock:r:a:t/id/with/slashes",
	"arn:aws:bedrock:r:a:t/id:with:colons",
	"arn:aws:bedrock:r:a:type:with:colons/id",
	"arn:aws:bedrock:r:a:/id",
	"arn:aws:bedrock:r:a:t/",
	"arn:aws:bedrock:r:a:noslash",
	"arn::bedrock:r:a:t/id",
	"arn:aws::r:a:t/id",
	"arn:aws:bedrock:r:t/id",
	"arn:aws:bedrock",
	"arn:",
	"ARN:aws:bedrock:r:a:t/id",
	"",
	"eu.demo.chat-small",
}

// TestProfileIDFromARNAsParseARN: the id ProfileIDFromARN reads without
// profile.ParseARN is the one ParseARN reads, and it refuses what ParseARN
// refuses, with ParseARN's error.
func TestProfileIDFromARNAsParseARN(t *testing.T) {
	t.Parallel()
	for _, s := range arnCases {
		checkARN(t, s)
	}
}

func checkARN(t *testing.T, s string) {
	t.Helper()
	got, err := ProfileIDFromARN(s)
	a, werr := profile.ParseARN(s)
	switch {
	case (err != nil) != (werr != nil):
		t.Errorf("ProfileIDFromARN(%q) = %q, %v; ParseARN: %v", s, got, err, werr)
	case err != nil && err.Error() != werr.Error():
		t.Errorf("ProfileIDFromARN(%q) error %q, ParseARN's %q", s, err, werr)
	case err == nil && got != a.ID:
		t.Errorf("ProfileIDFromARN(%q) = %q, ParseARN's id %q", s, got, a.ID)
	}
}

func FuzzProfileIDFromARN(f *testing.F) {
	for _, s := range arnCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkARN(t, s) })
}

// TestProfileIDFromARNAllocs: a well-formed ARN is read without an
// allocation (the destination reads the envelope's twice per forward).
func TestProfileIDFromARNAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	arn := arnCases[0]
	if n := testing.AllocsPerRun(100, func() { _, _ = ProfileIDFromARN(arn) }); n != 0 {
		t.Errorf("ProfileIDFromARN allocates %v times, want 0", n)
	}
}

// TestForwardFollowsNoRedirect: a destination that answers a forward with
// a redirect gets no second request (with the same envelope, wherever the
// redirect points): the forward fails as an answer other than 200 does.
func TestForwardFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	var invokes atomic.Int64
	redirect := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == PathInvoke && invokes.Add(1) == 1 {
				http.Redirect(w, r, PathInvoke, http.StatusTemporaryRedirect)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	l := startPoolLink(t, poolLinkOptions{secure: true, h2: true, local: &servingLocal{}, wrap: redirect})
	if _, err := l.client.Executor(dst).Complete(t.Context(), forwardJob()); err == nil {
		t.Error("a forward answered with a redirect succeeded, want an error")
	}
	if got := invokes.Load(); got != 1 {
		t.Errorf("the destination got %d requests, want 1 (the redirect not followed)", got)
	}
}

// TestForwardHeaders: a forward carries its content type, what it accepts,
// the envelope and its MAC, and does not ask for compression (the link's
// answers are never compressed; asking cost net/http a header map per
// forward).
func TestForwardHeaders(t *testing.T) {
	t.Parallel()
	var got atomic.Pointer[http.Header]
	keep := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == PathInvoke {
				hd := r.Header.Clone()
				got.Store(&hd)
			}
			h.ServeHTTP(w, r)
		})
	}
	l := startPoolLink(t, poolLinkOptions{secure: true, h2: true, local: &servingLocal{}, wrap: keep})
	complete(t, l.client, forwardJob())
	h := *got.Load()
	for _, k := range []string{"Content-Type", "Accept", envelope.HeaderEnvelope, envelope.HeaderMAC} {
		if len(h[k]) != 1 || h[k][0] == "" {
			t.Errorf("%s: %q, want one value", k, h[k])
		}
	}
	if v := h.Get("Accept-Encoding"); v != "" {
		t.Errorf("Accept-Encoding: %q, want none", v)
	}
}

// TestForwardAllocs pins the allocations of one non-streaming forward end
// to end (source and destination, over a kept-alive pool connection with
// the session MAC, an answer from a destination that does nothing), as
// BenchmarkForward/session-mac measures them: 162 before the header copy
// of http.Client, the gzip request, the body's growing buffer, the header
// fields' own arrays, the ARN's split and the signer's copy of the request
// were removed, 145 after.
func TestForwardAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	l := startLinkProto(t, true, true)
	c := l.client(t, false)
	job := forwardJob()
	ex := c.Executor(dst)
	var err error
	for range 10 { // connections, keys and buffers
		if _, err = ex.Complete(t.Context(), job); err != nil {
			t.Fatal(err)
		}
	}
	const maxAllocs = 148
	n := testing.AllocsPerRun(200, func() {
		if _, e := ex.Complete(t.Context(), job); e != nil {
			err = e
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v allocations per forward", n)
	if n > maxAllocs {
		t.Errorf("a forward allocates %v times, want at most %d", n, maxAllocs)
	}
}

// TestRelayAllocsPerStream pins what the destination's relay allocates per
// stream in frames, beyond the events (none each): the frame writer's one
// buffer and the Content-Type's value (2; the frame writer had a buffer for
// the header and one for the fields, 3). The NDJSON encoder, its line and
// a heap copy of the event were made for every stream before (5 in all);
// they are now made only for a source that reads NDJSON.
func TestRelayAllocsPerStream(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	s := &server{opts: ServerOptions{Logger: slog.New(slog.DiscardHandler)}}
	ev := inference.Event{Kind: inference.EventDelta, Dialect: inference.DialectOpenAIChat,
		Raw: []byte(`{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" tok"}}]}`)}
	w := &discardWriter{h: http.Header{}}
	st := &repeatStream{ev: ev}
	const maxAllocs = 2
	n := testing.AllocsPerRun(100, func() {
		st.n = 16
		s.relay(w, st, true)
	})
	t.Logf("%v allocations per stream", n)
	if n > maxAllocs {
		t.Errorf("relaying a stream in frames allocates %v times, want at most %d", n, maxAllocs)
	}
}

// TestStopReasonOf: a known stop reason is read from a frame without an
// allocation; any other is read as sent.
func TestStopReasonOf(t *testing.T) {
	for _, want := range []inference.StopReason{inference.StopEndTurn, inference.StopMaxTokens, inference.StopSequence,
		inference.StopContentFiltered, "tool_use", "", "end_turn "} {
		b := []byte(want)
		if got := stopReasonOf(b); got != want {
			t.Errorf("stopReasonOf(%q) = %q", b, got)
		}
	}
	if raceEnabled {
		return
	}
	b := []byte(inference.StopEndTurn)
	if n := testing.AllocsPerRun(100, func() { _ = stopReasonOf(b) }); n != 0 {
		t.Errorf("stopReasonOf(%q) allocates %v times, want 0", b, n)
	}
}

// TestNewRemoteStreamAllocs: a forwarded stream in frames costs the source
// the stream, its reader and the reader's buffer (the frame reader is part
// of the stream: four allocations before).
func TestNewRemoteStreamAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	body := io.NopCloser(strings.NewReader(""))
	cancel := func() {}
	if n := testing.AllocsPerRun(100, func() { _ = newRemoteStream(dst, body, cancel, true, nil) }); n > 2 {
		t.Errorf("a forwarded stream in frames allocates %v times at the source, want at most 2", n)
	}
}
