package envelope

import (
	"errors"
	"fmt"
)

// Reason says why an envelope was refused. Its String is the value of the
// reason label of meridian_link_rejections_total.
type Reason uint8

// Reasons, in the order [Verifier.Verify] checks them (topology checks come
// from the [Checker]).
const (
	ReasonMalformed                  Reason = iota + 1 // headers missing, bad base64 or JSON, missing fields
	ReasonUnauthenticated                              // no verified TLS peer certificate
	ReasonBadSignature                                 // signature does not verify, or signer certificate refused
	ReasonRegionMismatch                               // source region is not the peer certificate's region
	ReasonWrongDestination                             // destination region is not the receiver
	ReasonStale                                        // issued-at outside the freshness window
	ReasonBodyHash                                     // body differs from the signed hash
	ReasonUnknownProfile                               // profile ARN unknown to the receiver's topology
	ReasonProfileExcludesDestination                   // profile does not include the receiver
	ReasonGeographyMismatch                            // geographic profile invoked from outside its geography
	ReasonCheckFailed                                  // a Checker error without a reason of its own
	ReasonReplay                                       // nonce seen within the window
	ReasonReplayCacheFull                              // replay cache at capacity; refused rather than risk a replay
	ReasonRequestMetadataHash                          // request metadata header differs from the signed hash (checked after the envelope verified)
)

var reasonNames = [...]string{
	ReasonMalformed:                  "malformed",
	ReasonUnauthenticated:            "unauthenticated",
	ReasonBadSignature:               "bad_signature",
	ReasonRegionMismatch:             "region_mismatch",
	ReasonWrongDestination:           "wrong_destination",
	ReasonStale:                      "stale",
	ReasonBodyHash:                   "body_hash",
	ReasonUnknownProfile:             "unknown_profile",
	ReasonProfileExcludesDestination: "profile_excludes_destination",
	ReasonGeographyMismatch:          "geography_mismatch",
	ReasonCheckFailed:                "check_failed",
	ReasonReplay:                     "replay",
	ReasonReplayCacheFull:            "replay_cache_full",
	ReasonRequestMetadataHash:        "request_metadata_hash",
}

// String returns the reason's snake_case label.
func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return "unknown"
}

// Reasons returns every reason, to pre-create metric label values.
func Reasons() []Reason {
	rs := make([]Reason, 0, len(reasonNames)-1)
	for r := ReasonMalformed; int(r) < len(reasonNames); r++ {
		rs = append(rs, r)
	}
	return rs
}

// Error is a refused envelope. Err is the internal cause, for logs; Reason
// is safe to return to the source node and to use as a metric label.
type Error struct {
	Reason Reason
	Err    error
}

func (e *Error) Error() string {
	return fmt.Sprintf("link envelope rejected (%s): %v", e.Reason, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Rejectf returns an [*Error] with reason and a formatted cause. A
// [Checker] uses it to give its refusals a reason.
func Rejectf(reason Reason, format string, args ...any) error {
	return &Error{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the reason of the first [*Error] in err's chain.
func ReasonOf(err error) (Reason, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason, true
	}
	return 0, false
}
