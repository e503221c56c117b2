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

// Errors of records received from elsewhere ([Registry.MergeFrom]): each
// says why a record was not accepted.
var (
	// ErrNotFromHome: a peer sent a record of a profile homed in another
	// region. A node accepts a profile's records only from its home region
	// (the region named by the sending peer's link certificate), never
	// relayed by a third node.
	ErrNotFromHome = errors.New("record not sent by the profile's home region")
	// ErrFutureRecord: the record is dated later than the receiver's clock
	// allows ([MaxRecordSkew]); it would win every later merge.
	ErrFutureRecord = errors.New("record dated in the future")
	// ErrImmutable: the record changes what never changes once a profile
	// exists (its copy source, home region, name, creation time), or
	// revives a deleted profile.
	ErrImmutable = errors.New("record changes an immutable field")
	// ErrHomeGone: the record's home region is not in this topology; the
	// profile is not served until it is.
	ErrHomeGone = errors.New("home region not in this topology")
	// ErrHomeScope: the copy source is not callable from the record's home
	// region, so that region could not have created it.
	ErrHomeScope = errors.New("copy source not callable from the home region")
)

// More errors of records received from elsewhere.
var (
	// ErrHomeConflict: two home regions claim one profile id. Ids are
	// random, so only a forgery makes them meet: the record held stays,
	// the other is refused, and the profile is served only from the home
	// region its record names (see [Registry.Catalog]).
	ErrHomeConflict = errors.New("two home regions claim one profile id")
	// ErrTooLarge: the record exceeds a size bound (tags, description,
	// name), or its home region holds [MaxPerHome] live profiles.
	ErrTooLarge = errors.New("record exceeds a size bound")
)
