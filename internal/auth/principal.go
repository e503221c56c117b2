package auth

import "github.com/meridian-gateway/meridian/internal/topology"

// Method says how a principal proved who it is.
type Method uint8

// Authentication methods.
const (
	MethodAPIKey Method = iota + 1
	MethodSigV4
	MethodMTLS
	// MethodLink is a request forwarded by another region's node, acting
	// for the principal named in its envelope.
	MethodLink
)

// String returns the method's name as written in audit events.
func (m Method) String() string {
	switch m {
	case MethodAPIKey:
		return "apiKey"
	case MethodSigV4:
		return "sigv4"
	case MethodMTLS:
		return "mtls"
	case MethodLink:
		return "link"
	}
	return "unknown"
}

// Principal is an authenticated caller.
type Principal struct {
	// ID is the principal's id in the topology (aws:userid).
	ID string
	// Username is aws:username in policies.
	Username string
	Tags     map[string]string
	// Policies names the identity policies attached to the principal.
	Policies []string
	// Viewer may read operational views but not invoke models.
	Viewer bool
	// Method is how this request authenticated.
	Method Method
	// KeyID identifies the credential without revealing it: "key-<12 hex of
	// the key's hash>" for API keys, the access key id for SigV4.
	KeyID string
}

// fromConfig builds the principal template of a topology entry.
func fromConfig(p topology.Principal) Principal {
	return Principal{ID: p.ID, Username: p.Name(), Tags: p.Tags, Policies: p.Policies, Viewer: p.Viewer}
}
