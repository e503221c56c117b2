package gateway

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// Response headers on every inference response (docs/architecture.md,
// invariant 5). Route.SetHeaders writes them.
const (
	HeaderRequestID        = dispatch.HeaderRequestID
	HeaderSourceRegion     = dispatch.HeaderSourceRegion
	HeaderInferenceRegion  = dispatch.HeaderInferenceRegion
	HeaderInferenceProfile = dispatch.HeaderInferenceProfile
	HeaderRoute            = dispatch.HeaderRoute
)

// ClientIP returns the IP address of the client connection.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// ReadBody reads a request body of at most limit bytes for a front end: a
// longer body is KindPayloadTooLarge (413), one that cannot be read
// KindInvalidRequest (400).
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *inference.Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &inference.Error{Kind: inference.KindPayloadTooLarge, Message: "request body exceeds " + strconv.FormatInt(mbe.Limit, 10) + " bytes"}
		}
		return nil, &inference.Error{Kind: inference.KindInvalidRequest, Message: "request body could not be read", Err: err}
	}
	return body, nil
}
