package profile

import "errors"

// Sentinel errors; resolution errors wrap one of them with a message that
// says what the caller can do instead.
var (
	// ErrNotFound: no profile or deployed model has that name.
	ErrNotFound = errors.New("inference profile not found")
	// ErrNotCallable: the profile exists but may not be invoked from the
	// source region (a geographic profile called from outside its geography,
	// or a model id not deployed in the source region).
	ErrNotCallable = errors.New("inference profile not callable from this region")
	// ErrInvalidARN: the text is not a well-formed ARN.
	ErrInvalidARN = errors.New("invalid ARN")
	// ErrResidency: a destination lies outside the profile's destination set
	// or its geography (invariant 1).
	ErrResidency = errors.New("destination outside the profile's allowed regions")
	// ErrExists: an application profile with that id already exists.
	ErrExists = errors.New("inference profile already exists")
	// ErrReservedID: an application profile id starts with a geography or
	// global prefix, so it would read as a system profile (invariant 1).
	ErrReservedID = errors.New("inference profile id is reserved for system profiles")
)
