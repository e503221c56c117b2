package interregion

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/interregion/envelope"
)

// reasoningJob is a forwarded Chat Completions job with body.
func reasoningJob(t *testing.T, body string) *dispatch.Job {
	t.Helper()
	job := forwardJobCanonical()
	req, err := inference.Peek(inference.DialectOpenAIChat, "", []byte(body), false)
	if err != nil {
		t.Fatal(err)
	}
	job.Operation, job.Request = "ChatCompletions", req
	return job
}

// carriedBody is the Chat body the Responses front end routes when a
// request sends Claude's reasoning back (internal/translate/
// responses_reasoning.go).
const carriedBody = `{"model":"eu.demo.chat-small","reasoning_effort":"low","messages":[{"role":"user","content":"u"},` +
	`{"role":"assistant","reasoning_content":"meridian.r1.W3sidCI6IlBsYW4uIiwicyI6IlNJRyJ9XQ","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},` +
	`{"role":"tool","tool_call_id":"c","content":"ok"}],"tools":[{"type":"function","function":{"name":"f"}}]}`

// TestCarriedReasoningToOlderPeer: a peer that advertises a link version
// older than 6 does not restore Claude's reasoning that a Chat body carries
// (it would leave it out for Claude, pass it to an OpenAI deployment);
// such a body is not sent there (retryable, unfit: another destination
// serves it), while a body without it, or without reasoning_effort, still
// goes, and so does everything to a version 6 peer or one not yet probed.
// Envelopes stay at envelope.Version: version 6 adds no field.
func TestCarriedReasoningToOlderPeer(t *testing.T) {
	t.Parallel()
	l := startLink(t, true)
	c := l.client(t, false)
	p := c.peers[dst]
	plain := `{"model":"eu.demo.chat-small","reasoning_effort":"low","messages":[{"role":"user","content":"meridian.r1. is text"}]}`
	noEffort := strings.Replace(carriedBody, `"reasoning_effort":"low",`, "", 1)
	tests := []struct {
		name    string
		version int32
		body    string
		refused bool
	}{
		{"carried, version 5 peer", 5, carriedBody, true},
		{"carried, version 4 peer", 4, carriedBody, true},
		{"the prefix in a user's text, version 5 peer", 5, plain, false},
		{"without reasoning_effort, version 5 peer", 5, noEffort, false},
		{"carried, version 6 peer", 6, carriedBody, false},
		{"carried, peer not yet probed", 0, carriedBody, false},
	}
	for _, tc := range tests {
		p.envelopeVersion.Store(tc.version)
		job := reasoningJob(t, tc.body)
		job.RequestID = "req-reasoning-" + strings.ReplaceAll(tc.name, " ", "-")
		before := len(l.local.served())
		_, err := c.Executor(dst).Complete(t.Context(), job)
		if tc.refused {
			var e *inference.Error
			if !errors.As(err, &e) || e.Kind != inference.KindUnavailable || !e.Kind.Retryable() || !e.Unfit || !strings.Contains(e.Message, "reasoning") {
				t.Errorf("%s: %v, want a retryable unavailable error, unfit, naming the reasoning", tc.name, err)
			}
			if n := len(l.local.served()); n != before {
				t.Errorf("%s: the peer was sent the request", tc.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		served := l.local.served()
		if len(served) != before+1 || !bytes.Equal(served[len(served)-1].Request.Body, []byte(tc.body)) {
			t.Errorf("%s: body not served as sent", tc.name)
		}
		want := envelope.Version
		if tc.version != 0 {
			want = min(int(tc.version), envelope.Version)
		}
		if e, err := envelope.Decode(l.lastHeader().Get(envelope.HeaderEnvelope)); err != nil || e.Version != want {
			t.Errorf("%s: envelope version %d (%v), want %d", tc.name, e.Version, err, want)
		}
	}
	// An upgraded peer advertises its link version (6 or later) on its state answers.
	c.probe(t.Context(), p)
	if v := p.envelopeVersion.Load(); v != linkVersion {
		t.Errorf("an upgraded peer advertises %d, want %d", v, linkVersion)
	}
}
