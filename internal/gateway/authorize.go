package gateway

import (
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// AuthzInput is what an authorization decision for an invocation needs.
type AuthzInput struct {
	Principal auth.Principal
	// Source is the region the request entered.
	Source     string
	Resolution *profile.Resolution
	// Stream selects bedrock:InvokeModelWithResponseStream.
	Stream          bool
	SourceIP        string
	SecureTransport bool
	Now             time.Time
	// RequestTags are the tags a create or tag call asks for
	// (aws:RequestTag/*, aws:TagKeys).
	RequestTags map[string]string
}

// Authorizer decides which of a resolved profile's destinations a principal
// may use (invariant 2: the profile ARN and the foundation-model ARN in each
// destination region are both checked).
type Authorizer interface {
	// AuthorizeInvoke returns the allowed destinations, a subset of
	// in.Resolution.Destinations in the same order. When none is allowed it
	// returns an *inference.Error of kind KindPermissionDenied naming the
	// action and ARN that lacked an allow.
	AuthorizeInvoke(in AuthzInput) ([]string, error)
}

// AllowAll lets every authenticated principal invoke every destination. It
// is the behaviour of a topology without policies; the node passes it
// deliberately (and says so in its log at start), since a nil Authorizer
// is refused.
type AllowAll struct{}

// AuthorizeInvoke implements Authorizer.
func (AllowAll) AuthorizeInvoke(in AuthzInput) ([]string, error) {
	return in.Resolution.Destinations, nil
}
