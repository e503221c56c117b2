package gateway

import (
	"bytes"
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

// maxDeclaredBody bounds the buffer ReadBody makes for a body's declared
// length before the body arrives; a longer body grows with what arrives.
// It is small because a client can declare without sending: at HTTP/2's
// 250 streams a connection, 16 KiB each holds 4 MiB until the read times
// out (the link's server bounds its own read the same way).
const maxDeclaredBody = 16 << 10

// ReadBody reads a request body of at most limit bytes for a front end: a
// longer body is KindPayloadTooLarge (413), whose message names the
// setting every front end's limit is (server.max_request_bytes), one that
// cannot be read KindInvalidRequest (400).
//
// A body whose length the request declares, within limit and at most
// maxDeclaredBody (16 KiB), is read into a buffer of that length (and one byte
// more, to see it end there): a server's request body never yields more
// than its Content-Length, so io.ReadAll's growing buffer and the
// MaxBytesReader are spared.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *inference.Error) {
	var body []byte
	var err error
	if n := r.ContentLength; n >= 0 && n <= min(limit, maxDeclaredBody) && r.Body != nil && r.Body != http.NoBody {
		// One byte of room, to see the body end where it said.
		body = make([]byte, n, n+1)
		if _, err = io.ReadFull(r.Body, body); err == io.EOF {
			err = io.ErrUnexpectedEOF // a declared body that never came
		}
		if err == nil {
			if k, _ := io.ReadFull(r.Body, body[n:n+1]); k > 0 {
				// Longer than declared (a request not made by net/http's
				// server): read as a body of unknown length.
				rest := io.MultiReader(bytes.NewReader(body[:n+1]), r.Body)
				body, err = io.ReadAll(http.MaxBytesReader(w, io.NopCloser(rest), limit))
			}
		}
	} else {
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &inference.Error{Kind: inference.KindPayloadTooLarge, Message: "request body exceeds " + strconv.FormatInt(mbe.Limit, 10) + " bytes (the node's server.max_request_bytes)"}
		}
		return nil, &inference.Error{Kind: inference.KindInvalidRequest, Message: "request body could not be read", Err: err}
	}
	return body, nil
}
