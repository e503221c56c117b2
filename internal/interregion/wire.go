package interregion

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/meridian-gateway/meridian/internal/auth"
	"github.com/meridian-gateway/meridian/internal/dispatch"
	"github.com/meridian-gateway/meridian/internal/inference"
)

// Paths served on the link listener.
const (
	PathInvoke = "/link/v1/invoke"
	PathState  = "/link/v1/state"
)

// Job metadata headers.
const (
	hRequestID   = "Meridian-Request-Id"
	hOperation   = "Meridian-Operation"
	hSource      = "Meridian-Source-Region"
	hDestination = "Meridian-Destination-Region"
	hPrincipal   = "Meridian-Principal"
	hAuthMethod  = "Meridian-Auth-Method"
	hKeyID       = "Meridian-Key-Id"
	hProfile     = "Meridian-Profile"
	hProfileARN  = "Meridian-Profile-Arn"
	hModel       = "Meridian-Model"
	hSourceIP    = "Meridian-Client-Ip"
	hSecure      = "Meridian-Client-Tls"
)

func setJobHeaders(h http.Header, job *dispatch.Job) {
	h.Set(hRequestID, job.RequestID)
	h.Set(hOperation, job.Operation)
	h.Set(hSource, job.SourceRegion)
	h.Set(hDestination, job.DestinationRegion)
	h.Set(hPrincipal, job.Principal.ID)
	h.Set(hAuthMethod, strconv.Itoa(int(job.Principal.Method)))
	h.Set(hKeyID, job.Principal.KeyID)
	h.Set(hProfile, job.ProfileID)
	h.Set(hProfileARN, job.ProfileARN)
	h.Set(hModel, job.Model)
	h.Set(hSourceIP, job.SourceIP)
	h.Set(hSecure, strconv.FormatBool(job.SecureTransport))
}

func jobFromHeaders(h http.Header, req *inference.Request) *dispatch.Job {
	m, _ := strconv.Atoi(h.Get(hAuthMethod))
	return &dispatch.Job{
		RequestID: h.Get(hRequestID), Operation: h.Get(hOperation),
		SourceRegion: h.Get(hSource), DestinationRegion: h.Get(hDestination),
		ProfileID: h.Get(hProfile), ProfileARN: h.Get(hProfileARN), Model: h.Get(hModel),
		Principal: auth.Principal{ID: h.Get(hPrincipal), Method: auth.Method(m), KeyID: h.Get(hKeyID)},
		Request:   req,
		SourceIP:  h.Get(hSourceIP), SecureTransport: h.Get(hSecure) == "true",
	}
}

// wireError is an error as it crosses the link.
type wireError struct {
	Kind           string `json:"kind"`
	Message        string `json:"message"`
	Code           string `json:"code,omitempty"`
	RetryAfterMs   int64  `json:"retryAfterMs,omitempty"`
	UpstreamStatus int    `json:"upstreamStatus,omitempty"`
}

var kindByName = func() map[string]inference.ErrorKind {
	m := map[string]inference.ErrorKind{}
	for k := inference.KindInternal; k <= inference.KindUpstream; k++ {
		m[k.String()] = k
	}
	return m
}()

func toWire(e *inference.Error) wireError {
	return wireError{Kind: e.Kind.String(), Message: e.Message, Code: e.Code, RetryAfterMs: e.RetryAfter.Milliseconds(), UpstreamStatus: e.UpstreamStatus}
}

func (w wireError) err(region string) *inference.Error {
	k, ok := kindByName[w.Kind]
	if !ok {
		k = inference.KindUpstream
	}
	msg := w.Message
	if k == inference.KindPermissionDenied {
		// A destination's own re-check refused: say which one.
		msg = "refused by destination region " + region + ": " + msg
	}
	return &inference.Error{Kind: k, Message: msg, Code: w.Code, RetryAfter: time.Duration(w.RetryAfterMs) * time.Millisecond,
		UpstreamStatus: w.UpstreamStatus, Err: &PeerError{Region: region, Msg: w.Message}}
}

// PeerError is the internal cause of an error a peer reported.
type PeerError struct {
	Region string
	Msg    string
}

func (e *PeerError) Error() string { return "peer " + e.Region + ": " + e.Msg }

// streamLine is one line of a forwarded stream.
type streamLine struct {
	Event *inference.Event `json:"event,omitempty"`
	Error *wireError       `json:"error,omitempty"`
	End   bool             `json:"end,omitempty"`
}

func writeWireError(w http.ResponseWriter, e *inference.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Kind.Status())
	json.NewEncoder(w).Encode(toWire(e))
}
