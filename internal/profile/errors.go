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

// Errors of the application-profile [Registry].
var (
	// ErrNameTaken: a live application profile of the same home region
	// already has that name.
	ErrNameTaken = errors.New("inference profile name already in use")
	// ErrTokenReused: a client request token was already used for a
	// different create request.
	ErrTokenReused = errors.New("client request token already used for a different request")
	// ErrCopyApplication: an application profile may copy a system profile
	// or a model, not another application profile.
	ErrCopyApplication = errors.New("copy source is an application profile")
	// ErrNoRecord: the registry holds no live record of that id (it may be
	// defined in the topology file instead).
	ErrNoRecord = errors.New("no API-created application profile with that id")
	// ErrInvalidRecord: a record received from elsewhere is malformed.
	ErrInvalidRecord = errors.New("malformed application profile record")
)
