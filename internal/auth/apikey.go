package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/meridian-gateway/meridian/internal/topology"
)

// Errors returned by authentication. Their messages are safe for clients.
var (
	ErrMissingCredentials = errors.New("missing credentials: send an API key as \"Authorization: Bearer <key>\"")
	ErrInvalidCredentials = errors.New("invalid API key")
)

// KeyPrefix starts every key that `meridian keys new` makes.
const KeyPrefix = "mk-"

// NewKey returns a new random API key.
func NewKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// HashKey returns the "sha256:<hex>" form that topology files store.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// keyID names a key by a prefix of its hash, for logs and audit events.
func keyID(hash [32]byte) string { return "key-" + hex.EncodeToString(hash[:6]) }

type storedKey struct {
	hash      [32]byte
	principal *Principal
	// id is keyID(hash), formatted once rather than on every request.
	id string
}

// Authenticator checks credentials against a topology's principals. It is
// immutable and safe for concurrent use.
type Authenticator struct {
	keys      []storedKey
	byID      map[string]*Principal
	bySubject map[string]*Principal // client certificate identities
	// chainCheck re-verifies client certificate chains per request.
	chainCheck atomic.Pointer[func([]*x509.Certificate) error]
}

// New builds an Authenticator from the topology's principals.
func New(cfg *topology.Config) (*Authenticator, error) {
	a := &Authenticator{byID: map[string]*Principal{}, bySubject: map[string]*Principal{}}
	for _, p := range cfg.Principals {
		tmpl := fromConfig(p)
		a.byID[p.ID] = &tmpl
		for _, s := range p.ClientCertSubjects {
			a.bySubject[s] = &tmpl
		}
		for _, h := range p.APIKeys {
			raw, err := hex.DecodeString(strings.TrimPrefix(h, "sha256:"))
			if err != nil || len(raw) != 32 {
				return nil, errors.New("principal " + p.ID + ": malformed API key hash")
			}
			var sk storedKey
			copy(sk.hash[:], raw)
			sk.principal, sk.id = &tmpl, keyID(sk.hash)
			a.keys = append(a.keys, sk)
		}
	}
	return a, nil
}

// Principal returns the principal with the given id, for requests that
// arrive over the link on a principal's behalf.
func (a *Authenticator) Principal(id string) (Principal, bool) {
	p, ok := a.byID[id]
	if !ok {
		return Principal{}, false
	}
	return *p, true
}

// APIKey authenticates a presented API key. Every stored hash is compared in
// constant time, so timing reveals neither which key matched nor how much
// of it.
func (a *Authenticator) APIKey(key string) (Principal, error) {
	if key == "" {
		return Principal{}, ErrMissingCredentials
	}
	// The key copied to the stack: []byte(key) would allocate for a key
	// longer than the compiler's 32-byte conversion buffer, as every key
	// NewKey makes is.
	var buf [128]byte
	sum := sha256.Sum256(append(buf[:0], key...))
	var match *storedKey
	for i := range a.keys {
		if subtle.ConstantTimeCompare(sum[:], a.keys[i].hash[:]) == 1 {
			match = &a.keys[i]
		}
	}
	if match == nil {
		return Principal{}, ErrInvalidCredentials
	}
	p := *match.principal
	p.Method, p.KeyID = MethodAPIKey, match.id // keyID(sum): sum is match.hash
	return p, nil
}

// BearerKey extracts an API key from "Authorization: Bearer <key>", or from
// "x-api-key" (as some OpenAI-compatible clients send it).
func BearerKey(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if k, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(k)
		}
		if k, ok := strings.CutPrefix(h, "bearer "); ok {
			return strings.TrimSpace(k)
		}
		return ""
	}
	return strings.TrimSpace(r.Header.Get("X-Api-Key"))
}
