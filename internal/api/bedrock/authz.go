package bedrock

import (
	"context"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/gateway"
	"github.com/meridian-gateway/meridian/internal/inference"
	"github.com/meridian-gateway/meridian/internal/profile"
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

// Authorizer decides control-plane actions. PolicyAuthorizer implements it
// with the topology's policies (allowing everything when there are none).
type Authorizer interface {
	// AuthorizeControl returns nil to allow, or an *inference.Error of kind
	// KindPermissionDenied naming the action and ARN that lacked an allow.
	AuthorizeControl(ctx context.Context, in ControlInput) error
}

// Peers is told of every application-profile change this front end makes
// (create, delete), so that it can hurry its distribution: the node kicks a
// sync with the other replicas of its region. Other regions learn changes
// from the state the node publishes, which carries every record
// (anti-entropy), so delivery may be best-effort. Publish must not block
// for long.
type Peers interface {
	Publish(ctx context.Context, changed []profilestore.Record)
}

// PolicyAuthorizer decides control-plane actions with the topology's
// IAM-style policies and guardrails (gateway.PolicyAuthorizer.Decide), with
// aws:RequestedRegion the node's region and aws:ResourceTag/* the tags of
// the application profile acted on. A nil P allows everything (a topology
// without policies).
type PolicyAuthorizer struct {
	P *gateway.PolicyAuthorizer
}

// AuthorizeControl implements Authorizer.
func (a PolicyAuthorizer) AuthorizeControl(_ context.Context, in ControlInput) error {
	res := &profile.Resolution{}
	if len(in.ResourceTags) > 0 {
		res.Profile = &profile.Profile{Type: profile.Application, Tags: in.ResourceTags}
	}
	return a.P.Decide(gateway.AuthzInput{Principal: in.Principal, Source: in.Region, Resolution: res,
		SourceIP: in.SourceIP, SecureTransport: in.SecureTransport, Now: in.Now, RequestTags: in.RequestTags}, in.Action, in.Resource)
}

// denyAll refuses every control-plane action; it stands in when the
// policies cannot be compiled, so that a broken policy never opens access.
type denyAll struct{ err error }

func (d denyAll) AuthorizeControl(_ context.Context, in ControlInput) error {
	return &inference.Error{Kind: inference.KindPermissionDenied, Message: "not authorized to perform " + in.Action + " on " + auth.Truncate(in.Resource, maxQuoted), Err: d.err}
}
