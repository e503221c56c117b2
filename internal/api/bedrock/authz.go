package bedrock

import (
	"context"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/profilestore"
)

// Control-plane actions, as IAM policies name them.
const (
	ActionListInferenceProfiles  = "bedrock:ListInferenceProfiles"
	ActionGetInferenceProfile    = "bedrock:GetInferenceProfile"
	ActionCreateInferenceProfile = "bedrock:CreateInferenceProfile"
	ActionDeleteInferenceProfile = "bedrock:DeleteInferenceProfile"
	ActionTagResource            = "bedrock:TagResource"
)

// ControlInput is what a control-plane authorization decision needs.
type ControlInput struct {
	Principal auth.Principal
	// Action is one of the Action* constants.
	Action string
	// Resource is the ARN acted on: the profile's ARN, or for List
	// "arn:{partition}:bedrock:{region}:{account}:inference-profile/*".
	Resource string
	// Region is the region the request entered (aws:RequestedRegion).
	Region string
	// RequestTags are the tags of a create call (aws:RequestTag/*,
	// aws:TagKeys); ResourceTags the tags of an existing application
	// profile (aws:ResourceTag/*).
	RequestTags, ResourceTags map[string]string
	SourceIP                  string
	SecureTransport           bool
	Now                       time.Time
}

// Authorizer decides control-plane actions. The policy integration
// (issue 5) implements it; AllowAll is the behaviour without policies.
type Authorizer interface {
	// AuthorizeControl returns nil to allow, or an *inference.Error of kind
	// KindPermissionDenied naming the action and ARN that lacked an allow.
	AuthorizeControl(ctx context.Context, in ControlInput) error
}

// AllowAll lets every authenticated principal manage profiles.
type AllowAll struct{}

// AuthorizeControl implements Authorizer.
func (AllowAll) AuthorizeControl(context.Context, ControlInput) error { return nil }

// Peers distributes application-profile changes to the other regions'
// nodes, which apply them with [Handler.Merge]. Publish must not block on
// slow peers for long; a peer that misses a change catches up from
// [Handler.Records] (anti-entropy), so delivery may be best-effort.
type Peers interface {
	Publish(ctx context.Context, changed []profilestore.Record)
}
