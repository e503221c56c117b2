// Package auth authenticates callers and turns credentials into principals:
// API keys (stored as SHA-256 hashes, compared in constant time), AWS
// Signature Version 4 and mTLS client identities. Everything but a SigV4
// signature over the body's hash is decided from a request's headers and
// connection, so that front ends authenticate before they read a body
// ([SigV4.Check], then [SigV4Check.Verify] with the body); [Authenticated]
// tells the listener's admission that a request has proved who it is. It
// never logs or returns secrets, and its errors quote caller input only
// through [Truncate].
package auth
