package telemetry

import (
	"strings"

	"github.com/meridian-gateway/meridian/internal/profile"
)

// ProfileLabel is the bounded `profile` label of a request's metrics: the
// profile or model id for those the topology defines, and for an
// application profile created through the API "application:" plus what it
// copies (a system profile or model id), so that callers creating profiles
// cannot grow the label set. An id the catalog does not know (a profile
// deleted since) is "other"; "" stays "".
func ProfileLabel(cat *profile.Catalog, id string) string {
	if id == "" || cat == nil {
		return ""
	}
	p, ok := cat.Get(id)
	if !ok {
		if len(cat.Hosts(id)) > 0 {
			return id
		}
		return "other"
	}
	if p.Type != profile.Application || p.HomeRegion == "" {
		return id
	}
	src := p.CopyFrom
	if i := strings.LastIndexByte(src, '/'); strings.HasPrefix(src, "arn:") && i >= 0 {
		src = src[i+1:]
	}
	if sp, ok := cat.Get(src); ok && sp.Type == profile.SystemDefined {
		return "application:" + src
	}
	if len(cat.Hosts(src)) > 0 {
		return "application:" + src
	}
	return "application"
}

// RouteLabel is the bounded `route` label of a route reason: its first
// word ("failover:throttled:eu-central-1" is "failover").
func RouteLabel(reason string) string {
	if r, _, ok := strings.Cut(reason, ":"); ok {
		return r
	}
	return reason
}
