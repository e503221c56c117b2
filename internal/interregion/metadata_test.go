package interregion

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

// metadataJob is an InvokeModel job (op) whose caller sent request
// metadata in the X-Amzn-Bedrock-Request-Metadata header: the front end
// put it on the request, beside the Anthropic body the link carries.
func metadataJob(t testing.TB, op string, md map[string]string) *dispatch.Job {
	t.Helper()
	job := forwardJobCanonical()
	job.Operation = op
	job.Request.Stream = op == opInvokeStream
	job.Request = clientRequest(t, job)
	job.Request.Metadata = md
	return job
}

var testMetadata = map[string]string{"team": "claims", "ticket": "CLM-42", "note": "a b\tc"}

// TestForwardRequestMetadata: metadata sent beside the body crosses the
// link in its own header, under the envelope's hash, sealed either way and
// on an insecure development link: the destination serves the request
// with the metadata the source had (and a request without any, with
// none).
func TestForwardRequestMetadata(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name            string
		secure, withSig bool
	}{{"session MAC", true, false}, {"certificate signature", true, true}, {"insecure dev link", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := startLink(t, tc.secure)
			c := l.client(t, tc.withSig)
			for _, op := range []string{opInvoke, opInvokeStream} {
				for _, md := range []map[string]string{testMetadata, nil} {
					job := metadataJob(t, op, md)
					sent := *job
					if _, err := c.Executor(dst).Complete(t.Context(), &sent); err != nil {
						t.Fatalf("%s: %v", op, err)
					}
					served := l.local.served()
					if d := cmp.Diff(job, served[len(served)-1]); d != "" {
						t.Errorf("%s with metadata %v: job served differs (-sent +served):\n%s", op, md, d)
					}
					h := l.lastHeader()
					if got := h.Get(envelope.HeaderRequestMetadata); (md != nil) != (got != "") {
						t.Errorf("%s: metadata header %q", op, got)
					}
				}
			}
		})
	}
}

// TestWireGoldenRequestMetadata pins the wire form of an InvokeModel
// request with metadata (testdata/wire/invoke-request-metadata): the
// metadata header, JSON with sorted keys, and the envelope's hash of it.
func TestWireGoldenRequestMetadata(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "wire", "invoke-request-metadata")
	in, err := os.ReadFile(filepath.Join(dir, "job.json"))
	if err != nil {
		t.Fatal(err)
	}
	var job dispatch.Job
	if err := json.Unmarshal(in, &job); err != nil {
		t.Fatalf("job.json: %v", err)
	}
	md := job.Request.Metadata
	job.Request = clientRequest(t, &job)
	job.Request.Metadata = md
	l := startLink(t, true)
	sent := job
	if _, err := l.client(t, false).Executor(dst).Complete(t.Context(), &sent); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	checkGolden(t, filepath.Join(dir, "request.golden"), wireText(t, l.lastHeader()), "forwarded request")
	served := l.local.served()
	if d := cmp.Diff(&job, served[0]); d != "" {
		t.Errorf("job served differs (-sent +served):\n%s", d)
	}
}

// TestRequestMetadataToOlderPeer: a peer that advertises an envelope
// version older than 5 cannot carry metadata sent beside the body; such a
// request is not sent there (a retryable error, so another destination
// serves it, and the attempt does not count against the peer's
// deployment) rather than served without it. A request whose metadata is
// in its body (Converse), or that has none, still goes.
func TestRequestMetadataToOlderPeer(t *testing.T) {
	t.Parallel()
	l := startLink(t, true)
	c := l.client(t, false)
	c.peers[dst].envelopeVersion.Store(4)
	job := metadataJob(t, opInvoke, testMetadata)
	_, err := c.Executor(dst).Complete(t.Context(), job)
	var e *inference.Error
	if !errors.As(err, &e) || e.Kind != inference.KindUnavailable || !e.Kind.Retryable() || !e.Unfit || !strings.Contains(e.Message, "request metadata") {
		t.Fatalf("forward to a version 4 peer = %v, want a retryable unavailable error, unfit (not the deployment's fault), naming the request metadata", err)
	}
	if n := len(l.local.served()); n != 0 {
		t.Fatalf("the version 4 peer was sent %d requests", n)
	}
	for _, j := range []*dispatch.Job{metadataJob(t, opInvoke, nil), func() *dispatch.Job {
		j := forwardJob()
		j.Request.Metadata = testMetadata // as peeked from a Converse body
		return j
	}()} {
		if _, err := c.Executor(dst).Complete(t.Context(), j); err != nil {
			t.Fatalf("%s to a version 4 peer: %v", j.Operation, err)
		}
		if v := l.lastHeader().Get(envelope.HeaderRequestMetadata); v != "" {
			t.Errorf("%s: metadata header %q", j.Operation, v)
		}
	}
}

// TestRequestMetadataAltered: an attacker on the link who changes,
// removes or adds request metadata next to a genuine envelope gets
// nothing served with it: a change or removal is refused
// (request_metadata_hash), a header the envelope does not cover is
// ignored.
func TestRequestMetadataAltered(t *testing.T) {
	t.Parallel()
	l := startLink(t, true)
	const genuine = `{"note":"a b\tc","team":"claims","ticket":"CLM-42"}`
	for _, s := range sealings {
		for _, tc := range []struct {
			name      string
			withHash  bool
			header    string
			wantCode  string
			wantServe map[string]string
		}{
			{"changed", true, `{"note":"a b\tc","team":"other","ticket":"CLM-42"}`, "link_request_metadata_hash", nil},
			{"removed", true, "", "link_request_metadata_hash", nil},
			{"added without the envelope's hash", false, genuine, "", nil},
			{"genuine", true, genuine, "", testMetadata},
		} {
			t.Run(s.name+"/"+tc.name, func(t *testing.T) {
				c := l.dial(t)
				job := metadataJob(t, opInvoke, nil)
				job.RequestID = "req-md-" + s.name + "-" + tc.name
				body := job.Request.Body
				h := http.Header{"Content-Type": {bodyContentType(job.Request.Dialect)}}
				e := envelopeOf(job, body, t0)
				if tc.withHash {
					e.RequestMetadataSHA256 = envelope.HashRequestMetadata(genuine)
				}
				s.seal(t, l, e, c.state()).SetHeaders(h)
				if tc.header != "" {
					h.Set(envelope.HeaderRequestMetadata, tc.header)
				}
				code, we := c.send(h, body)
				if tc.wantCode != "" {
					if code != http.StatusForbidden || we.Code != tc.wantCode {
						t.Errorf("status %d %+v, want 403 %s", code, we, tc.wantCode)
					}
					for _, j := range l.local.served() {
						if j.RequestID == job.RequestID {
							t.Errorf("destination served it: %+v", j)
						}
					}
					return
				}
				if code != http.StatusOK {
					t.Fatalf("status %d %+v", code, we)
				}
				for _, j := range l.local.served() {
					if j.RequestID == job.RequestID {
						if d := cmp.Diff(tc.wantServe, j.Request.Metadata); d != "" {
							t.Errorf("served with metadata (-want +got):\n%s", d)
						}
						return
					}
				}
				t.Error("not served")
			})
		}
	}
}

// TestParseLinkMetadata: a forwarded request's metadata header is read
// only for an operation whose metadata comes beside the body, as a
// non-empty JSON object of strings within its API's limits (Bedrock's;
// OpenAI's for a Responses request).
func TestParseLinkMetadata(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op, v string
		ok    bool
	}{
		{opInvoke, `{"team":"claims"}`, true},
		{opInvokeStream, `{"team":"claims"}`, true},
		{opConverse, `{"team":"claims"}`, false},
		{opInvoke, `{}`, false},
		{opInvoke, `null`, false},
		{opInvoke, `{"k":1}`, false},
		{opInvoke, `{"k;":"v"}`, false},
		{opInvoke, `{"k":"` + strings.Repeat("v", 257) + `"}`, false},
		{opInvoke, strings.Repeat(" ", maxLinkMetadata+1), false},
		// A Responses request's metadata, by OpenAI's limits.
		{opResponses, `{"note":"hello; world!"}`, true},
		{opResponses, `{"k":"` + strings.Repeat("é", 512) + `"}`, true},
		{opResponses, `{"k":"` + strings.Repeat("v", 513) + `"}`, false},
		{opResponses, `{"` + strings.Repeat("k", 65) + `":"v"}`, false},
		{opChatCompletions, `{"team":"claims"}`, false},
	} {
		md, err := parseLinkMetadata(tc.op, tc.v)
		if (err == nil) != tc.ok || (err == nil && len(md) == 0) {
			t.Errorf("%s %.40q: %v, %v; want ok %v", tc.op, tc.v, md, err, tc.ok)
		}
	}
}

// FuzzParseLinkMetadata: whatever a peer sends as the metadata header,
// parseLinkMetadata returns metadata within Bedrock's limits or an error.
func FuzzParseLinkMetadata(f *testing.F) {
	for _, s := range []string{`{"team":"claims"}`, `{}`, `null`, `[]`, `{"k":1}`, `{"k;":"v"}`, `{"a":"b","a":"c"}`, `"x"`, `{`, `{"a":"\u000b"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		md, err := parseLinkMetadata(opInvoke, v)
		if err != nil {
			if md != nil {
				t.Fatalf("error %v with metadata %v", err, md)
			}
			return
		}
		if len(md) == 0 || inference.ValidateMetadata(md) != nil {
			t.Fatalf("accepted metadata %v", md)
		}
	})
}
