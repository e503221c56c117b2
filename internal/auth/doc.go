// Package auth authenticates callers and turns credentials into principals:
// API keys (stored as SHA-256 hashes, compared in constant time), and the
// seams for AWS Signature Version 4 and mTLS client identities. It never logs
// or returns secrets.
package auth
