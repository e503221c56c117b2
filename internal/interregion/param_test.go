package interregion

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// refusingLocal refuses every forwarded job with err.
type refusingLocal struct{ err *inference.Error }

func (l refusingLocal) ServeForwarded(context.Context, *dispatch.Job) (*dispatch.Outcome, error) {
	return nil, l.err
}

// TestRefusalKeepsItsParam: a destination's refusal that names the
// request's field reaches the source with that field, streamed or not, so
// the client's error names it as a local refusal would; a field name too
// long to be one is dropped.
func TestRefusalKeepsItsParam(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ param, want string }{
		{"dimensions", "dimensions"},
		{"", ""},
		{strings.Repeat("p", maxWireParam), strings.Repeat("p", maxWireParam)},
		{strings.Repeat("p", maxWireParam+1), ""},
	} {
		refusal := &inference.Error{Kind: inference.KindInvalidRequest, Message: "dimensions: 100 is not supported", Param: tc.param}
		for stream, err := range forwardRefused(t, refusal) {
			var ie *inference.Error
			if !errors.As(err, &ie) || ie.Kind != inference.KindInvalidRequest || ie.Param != tc.want {
				t.Errorf("param %.20q, stream=%v: err = %v (param %.20q), want an invalid request naming %.20q", tc.param, stream, err, paramOf(ie), tc.want)
			}
		}
	}
}

func paramOf(e *inference.Error) string {
	if e == nil {
		return ""
	}
	return e.Param
}

// forwardRefused forwards a job to a peer whose destination refuses it with
// refusal, not streamed and streamed, and returns the error the source got
// for each.
func forwardRefused(t *testing.T, refusal *inference.Error) map[bool]error {
	t.Helper()
	ts := httptest.NewServer(NewServer(ServerOptions{Local: refusingLocal{refusal}}))
	t.Cleanup(ts.Close)
	c := NewClient(ClientOptions{Region: src, Peers: []Peer{{Region: dst, Addr: ts.Listener.Addr().String()}}, Clock: clock.NewManual(t0)})
	t.Cleanup(c.Close)
	errs := map[bool]error{}
	for _, stream := range []bool{false, true} {
		job := forwardJob()
		job.Request.Stream = stream
		if stream {
			_, errs[stream] = c.Executor(dst).Stream(t.Context(), job)
		} else {
			_, errs[stream] = c.Executor(dst).Complete(t.Context(), job)
		}
	}
	return errs
}
