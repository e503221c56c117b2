package interregion

import (
	"errors"
	"testing"

	"github.com/meridian-gateway/meridian/internal/inference"
)

// TestConverseSystemRoleToOlderPeer: a peer older than link version 7
// refuses a Converse message of role "system" as an unknown role (a 400
// that does not fail over), so such a body is not sent there (retryable,
// unfit: another destination serves it); a body without one, another
// dialect, a version 7 peer or one not yet probed are not refused.
func TestConverseSystemRoleToOlderPeer(t *testing.T) {
	t.Parallel()
	system := `{"messages":[{"role":"user","content":[{"text":"u"}]},{"role":"system","content":[{"toolAddition":{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}}]}]}`
	plain := `{"messages":[{"role":"user","content":[{"text":"the system role"}]}],"system":[{"text":"s"}]}`
	for _, tc := range []struct {
		name    string
		dialect inference.Dialect
		version int
		body    string
		refused bool
	}{
		{"system role, version 6 peer", inference.DialectConverse, 6, system, true},
		{"system role, version 5 peer", inference.DialectConverse, 5, system, true},
		{"system prompt only, version 6 peer", inference.DialectConverse, 6, plain, false},
		{"system role, version 7 peer", inference.DialectConverse, systemRoleVersion, system, false},
		{"system role, peer not yet probed", inference.DialectConverse, 0, system, false},
		{"another dialect", inference.DialectOpenAIChat, 6, system, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := forwardJobCanonical()
			job.Request = &inference.Request{Dialect: tc.dialect, Body: []byte(tc.body)}
			err := linkConverseSystemRole(job, tc.version, "eu-west")
			var e *inference.Error
			if got := errors.As(err, &e); got != tc.refused {
				t.Fatalf("linkConverseSystemRole = %v, want refused %v", err, tc.refused)
			}
			if tc.refused && (e.Kind != inference.KindUnavailable || !e.Unfit) {
				t.Errorf("refusal %+v, want a retryable, unfit KindUnavailable", e)
			}
		})
	}
}
