package profile

import (
	"fmt"
	"strings"
)

// Resource types of Bedrock ARNs that Meridian names.
const (
	ResourceInferenceProfile            = "inference-profile"
	ResourceApplicationInferenceProfile = "application-inference-profile"
	ResourceFoundationModel             = "foundation-model"
)

// ARN is a parsed Amazon Resource Name:
// arn:{partition}:{service}:{region}:{account}:{type}/{id}.
type ARN struct {
	Partition string
	Service   string
	Region    string
	Account   string
	// Type is the resource type before the first "/", e.g. "inference-profile".
	Type string
	// ID is everything after the first "/"; it may contain ":" and "/".
	ID string
}

// String formats the ARN. ParseARN(a.String()) returns a.
func (a ARN) String() string {
	return "arn:" + a.Partition + ":" + a.Service + ":" + a.Region + ":" + a.Account + ":" + a.Type + "/" + a.ID
}

// ParseARN parses an ARN whose resource part has the form type/id, as all
// Bedrock ARNs do. The ARN's fields are substrings of s: a well-formed
// ARN is parsed without an allocation (the link's destination parses the
// envelope's on every forwarded request).
func ParseARN(s string) (ARN, error) {
	rest, ok := strings.CutPrefix(s, "arn:")
	if !ok {
		return ARN{}, fmt.Errorf("%w: %q does not start with arn:", ErrInvalidARN, s)
	}
	// Partition, service, region and account, each ended by a ':'; the
	// resource is the rest, ':' and all.
	var fields [4]string
	for i := range fields {
		if fields[i], rest, ok = strings.Cut(rest, ":"); !ok {
			return ARN{}, fmt.Errorf("%w: %q has fewer than six ':'-separated fields", ErrInvalidARN, s)
		}
	}
	a := ARN{Partition: fields[0], Service: fields[1], Region: fields[2], Account: fields[3]}
	typ, id, ok := strings.Cut(rest, "/")
	if !ok || typ == "" || id == "" {
		return ARN{}, fmt.Errorf("%w: %q has no resource type/id", ErrInvalidARN, s)
	}
	if a.Partition == "" || a.Service == "" {
		return ARN{}, fmt.Errorf("%w: %q has an empty partition or service", ErrInvalidARN, s)
	}
	a.Type, a.ID = typ, id
	return a, nil
}

// ProfileARN returns the ARN of a system-defined inference profile as seen
// from region.
func ProfileARN(partition, region, account, id string) string {
	return ARN{Partition: partition, Service: "bedrock", Region: region, Account: account, Type: ResourceInferenceProfile, ID: id}.String()
}

// ApplicationProfileARN returns the ARN of an application inference profile.
func ApplicationProfileARN(partition, region, account, id string) string {
	return ARN{Partition: partition, Service: "bedrock", Region: region, Account: account, Type: ResourceApplicationInferenceProfile, ID: id}.String()
}

// FoundationModelARN returns the ARN of a model in a region; foundation-model
// ARNs have an empty account field.
func FoundationModelARN(partition, region, model string) string {
	return ARN{Partition: partition, Service: "bedrock", Region: region, Type: ResourceFoundationModel, ID: model}.String()
}
