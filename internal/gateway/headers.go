package gateway

import (
	"net"
	"net/http"
)

// Response headers on every inference response (ARCHITECTURE.md).
const (
	HeaderRequestID        = "X-Meridian-Request-Id"
	HeaderSourceRegion     = "X-Meridian-Source-Region"
	HeaderInferenceRegion  = "X-Meridian-Inference-Region"
	HeaderInferenceProfile = "X-Meridian-Inference-Profile"
	HeaderRoute            = "X-Meridian-Route"
)

// SetHeaders writes the route's x-meridian-* headers.
func (r Route) SetHeaders(h http.Header) {
	h.Set(HeaderRequestID, r.RequestID)
	h.Set(HeaderSourceRegion, r.SourceRegion)
	if r.InferenceRegion != "" {
		h.Set(HeaderInferenceRegion, r.InferenceRegion)
	}
	if r.ProfileID != "" {
		h.Set(HeaderInferenceProfile, r.ProfileID)
	}
	if r.Reason != "" {
		h.Set(HeaderRoute, r.Reason)
	}
}

// ClientIP returns the IP address of the client connection.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
