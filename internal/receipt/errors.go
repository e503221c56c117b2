package receipt

import "errors"

// Errors [Verify] and [Sign] wrap; test with errors.Is.
var (
	// ErrMalformed: the token is not a well-formed receipt (encoding,
	// header, claims).
	ErrMalformed = errors.New("malformed receipt")
	// ErrSignature: the signature does not verify with the key of the
	// certificate in the header (the receipt or its header was edited).
	ErrSignature = errors.New("receipt signature does not verify")
	// ErrUntrusted: the signer's certificate does not chain to the given
	// CA bundle, was not valid when the receipt was issued, or is not a
	// link certificate allowed to sign.
	ErrUntrusted = errors.New("receipt signer is not trusted")
	// ErrRegion: the signer's certificate names another region than the
	// receipt's inference_region.
	ErrRegion = errors.New("receipt signer is not the inference region")
	// ErrFuture: the receipt was issued after now (beyond the clock skew
	// allowed).
	ErrFuture = errors.New("receipt issued in the future")
	// ErrMismatch: a request or answer does not hash to the receipt's
	// claim (see [Claims.CheckRequest], [Claims.CheckAnswer]).
	ErrMismatch = errors.New("hash does not match the receipt")
)
