package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/clock"
	"github.com/meridian-gateway/meridian/internal/topology"
)

// SigV4 errors. Their messages are safe for clients; none names a secret.
var (
	// ErrSigV4Missing: the request carries no SigV4 Authorization header.
	ErrSigV4Missing = errors.New("missing authentication token: sign the request with AWS Signature Version 4 or send an API key as \"Authorization: Bearer <key>\"")
	// ErrSigV4Malformed: the Authorization header or X-Amz-Date is not
	// well-formed SigV4.
	ErrSigV4Malformed = errors.New("malformed AWS Signature Version 4 authorization")
	// ErrSigV4UnknownKey: the access key id is not configured.
	ErrSigV4UnknownKey = errors.New("the security token included in the request is invalid")
	// ErrSigV4Scope: the credential scope names another region or service.
	ErrSigV4Scope = errors.New("credential scope does not match this endpoint")
	// ErrSigV4Skew: X-Amz-Date is outside the accepted clock-skew window.
	ErrSigV4Skew = errors.New("signature expired or not yet valid: X-Amz-Date is outside the accepted clock skew (fix: sync the client's clock, e.g. with NTP, or presign again)")
	// ErrSigV4Mismatch: the signature does not verify.
	ErrSigV4Mismatch = errors.New("the request signature we calculated does not match the signature you provided; check your AWS secret access key and signing method")
	// ErrSigV4Presigned: a presigned URL was presented while they are disabled.
	ErrSigV4Presigned = errors.New("presigned URLs are not accepted by this endpoint")
	// ErrSigV4Unsigned: UNSIGNED-PAYLOAD was presented while it is disabled.
	ErrSigV4Unsigned = errors.New("unsigned payloads are not accepted by this endpoint; sign the request body")
)

// Signing constants of AWS Signature Version 4.
const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	sigV4Terminator = "aws4_request"
	amzDateFormat   = "20060102T150405Z"
	unsignedPayload = "UNSIGNED-PAYLOAD"
	// SigV4Service is the signing name of both Bedrock APIs.
	SigV4Service = "bedrock"
)

// SigV4Options configure a SigV4 verifier.
type SigV4Options struct {
	// Region is the region credential scopes must name (this node's region).
	Region string
	// Service is the signing name credential scopes must name. If empty,
	// "bedrock".
	Service string
	// MaxSkew bounds |now - X-Amz-Date|. If zero, 5 minutes.
	MaxSkew time.Duration
	// AllowUnsignedPayload accepts X-Amz-Content-Sha256: UNSIGNED-PAYLOAD.
	AllowUnsignedPayload bool
	// AllowPresigned accepts presigned URLs (X-Amz-Signature in the query).
	AllowPresigned bool
	// Clock tells the time a signature is checked against. If nil,
	// clock.Wall.
	Clock clock.Clock
	// Getenv and ReadFile load secrets named by access_keys[].secret_env and
	// secret_file. If nil, secrets of that kind cannot be loaded.
	Getenv   func(string) string
	ReadFile func(string) ([]byte, error)
}

type sigV4Key struct {
	secret    []byte // "AWS4" + secret
	principal *Principal
	// derived caches the signing key of the last scope seen: deriving it
	// costs four HMACs and a scope changes once a day.
	derived atomic.Pointer[derivedKey]
}

type derivedKey struct {
	scope string // date/region/service
	key   []byte
}

// signingKey returns the key for date/region/service, derived once per scope.
func (k *sigV4Key) signingKey(date, region, service string) []byte {
	scope := date + "/" + region + "/" + service
	if d := k.derived.Load(); d != nil && d.scope == scope {
		return d.key
	}
	key := hmacSHA256(k.secret, date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, sigV4Terminator)
	k.derived.Store(&derivedKey{scope: scope, key: key})
	return key
}

// SigV4 verifies AWS Signature Version 4 requests against the access keys
// of a topology's principals. It is safe for concurrent use; its keys do
// not change after construction. Secrets are held in memory only and never
// logged.
type SigV4 struct {
	opts SigV4Options
	keys map[string]*sigV4Key
}

// NewSigV4 loads the secret of every principals[].access_keys[] entry. A
// secret that cannot be loaded is an error naming the config field and the
// variable or file, never its content.
func NewSigV4(cfg *topology.Config, opts SigV4Options) (*SigV4, error) {
	if opts.Service == "" {
		opts.Service = SigV4Service
	}
	if opts.MaxSkew == 0 {
		opts.MaxSkew = 5 * time.Minute
	}
	opts.Clock = clock.Or(opts.Clock)
	v := &SigV4{opts: opts, keys: map[string]*sigV4Key{}}
	var errs []error
	for i, p := range cfg.Principals {
		tmpl := fromConfig(p)
		for k, ak := range p.AccessKeys {
			field := fmt.Sprintf("%s: principals[%d].access_keys[%d]", cfg.File, i, k)
			secret, err := loadSecret(ak, opts.Getenv, opts.ReadFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", field, err))
				continue
			}
			if _, dup := v.keys[ak.ID]; dup {
				errs = append(errs, fmt.Errorf("%s.id: access key id %s is used twice (fix: give every access key its own id)", field, ak.ID))
				continue
			}
			v.keys[ak.ID] = &sigV4Key{secret: []byte("AWS4" + secret), principal: &tmpl}
		}
	}
	return v, errors.Join(errs...)
}

func loadSecret(ak topology.AccessKey, getenv func(string) string, readFile func(string) ([]byte, error)) (string, error) {
	switch {
	case ak.SecretEnv != "":
		if getenv == nil {
			return "", fmt.Errorf("secret_env: environment variables are not available here")
		}
		s := strings.TrimSpace(getenv(ak.SecretEnv))
		if s == "" {
			return "", fmt.Errorf("secret_env: environment variable %s is empty or not set (fix: export it with the secret access key)", ak.SecretEnv)
		}
		return s, nil
	case ak.SecretFile != "":
		if readFile == nil {
			return "", fmt.Errorf("secret_file: files are not available here")
		}
		b, err := readFile(ak.SecretFile)
		if err != nil {
			return "", fmt.Errorf("secret_file: read %s: %w", ak.SecretFile, errors.Unwrap(err))
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("secret_file: %s is empty", ak.SecretFile)
		}
		return s, nil
	}
	return "", errors.New("set secret_env or secret_file")
}

// Len returns the number of access keys the verifier knows.
func (v *SigV4) Len() int { return len(v.keys) }

// IsSigV4 reports whether r carries SigV4 credentials (header or query).
func IsSigV4(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), sigV4Algorithm+" ") || r.URL.Query().Has("X-Amz-Signature")
}

// sigV4Request is a parsed SigV4 authorization.
type sigV4Request struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
	amzDate                          time.Time
	presigned                        bool
	expires                          time.Duration
	query                            url.Values // the request's, parsed once
}

// Verify authenticates r, whose complete body is body. It returns the
// principal with Method MethodSigV4 and KeyID the access key id. Errors wrap
// one of the ErrSigV4* sentinels. It is [SigV4.Check] followed by
// [SigV4Check.Verify].
func (v *SigV4) Verify(r *http.Request, body []byte) (Principal, error) {
	c, err := v.Check(r)
	if err != nil {
		return Principal{}, err
	}
	return c.Verify(body)
}

// SigV4Check is a request whose SigV4 checks that need no body passed. It
// belongs to one request and is not safe for concurrent use.
type SigV4Check struct {
	v         *SigV4
	r         *http.Request
	sr        *sigV4Request
	key       *sigV4Key
	canonical string
	// claimed is the lower-case payload hash X-Amz-Content-Sha256 carries
	// (or UNSIGNED-PAYLOAD); empty when the header is absent.
	claimed string
	// signed is set when the signature verified before the body was read.
	signed bool
}

// Check runs every SigV4 check that needs no body, so that a request that
// cannot authenticate is refused before its body is read: the
// authorization's format (signature 64 lower-case hex digits), the
// credential scope (region, service, date), a known access key and the
// clock skew. When X-Amz-Content-Sha256 carries the payload hash (or an
// accepted UNSIGNED-PAYLOAD), or the request has no body, the signature
// itself is verified too ([SigV4Check.Signed]); otherwise the signature
// covers the body's hash and only [SigV4Check.Verify] can decide. Errors
// wrap one of the ErrSigV4* sentinels.
func (v *SigV4) Check(r *http.Request) (*SigV4Check, error) {
	sr, err := v.parse(r)
	if err != nil {
		return nil, err
	}
	key, ok := v.keys[sr.accessKey]
	if !ok {
		return nil, ErrSigV4UnknownKey
	}
	if sr.region != v.opts.Region || sr.service != v.opts.Service {
		return nil, fmt.Errorf("%w: the scope names region %q and service %q, this endpoint is region %q service %q (fix: configure the client with region %s)",
			ErrSigV4Scope, Truncate(sr.region, 64), Truncate(sr.service, 64), v.opts.Region, v.opts.Service, v.opts.Region)
	}
	if sr.amzDate.Format("20060102") != sr.date {
		return nil, fmt.Errorf("%w: the credential scope date does not match X-Amz-Date", ErrSigV4Malformed)
	}
	now := v.opts.Clock.Now()
	skew := now.Sub(sr.amzDate)
	if sr.presigned {
		if skew < -v.opts.MaxSkew || skew > sr.expires {
			return nil, ErrSigV4Skew
		}
	} else if skew < -v.opts.MaxSkew || skew > v.opts.MaxSkew {
		return nil, ErrSigV4Skew
	}
	c := &SigV4Check{v: v, r: r, sr: sr, key: key}
	switch claimed := r.Header.Get("X-Amz-Content-Sha256"); {
	case claimed == "":
	case claimed == unsignedPayload:
		if !v.opts.AllowUnsignedPayload {
			return nil, ErrSigV4Unsigned
		}
		c.claimed = unsignedPayload
	case isHexDigest(claimed):
		c.claimed = strings.ToLower(claimed)
	default:
		return nil, fmt.Errorf("%w: X-Amz-Content-Sha256 must be 64 hex digits or UNSIGNED-PAYLOAD", ErrSigV4Malformed)
	}
	// The canonical request is built once; only its last line, the
	// payload hash, differs between the candidates.
	if c.canonical, err = canonicalRequest(r, sr); err != nil {
		return nil, err
	}
	switch {
	case c.claimed != "":
		if !v.signatureMatches(sr, key, c.canonical, c.claimed) {
			return nil, ErrSigV4Mismatch
		}
		c.signed = true
	case r.ContentLength == 0:
		// No body: its hash is known without reading anything.
		if _, err := c.Verify(nil); err != nil {
			return nil, err
		}
		c.signed = true
	}
	return c, nil
}

// Signed reports whether the signature verified before the body was read:
// the request is then authenticated, and [SigV4Check.Verify] only checks
// that the body is the one whose hash was signed.
func (c *SigV4Check) Signed() bool { return c.signed }

// Verify completes the check with the request's complete body: the
// signature over the body's hash, or, when it verified already, the body
// against the signed X-Amz-Content-Sha256.
func (c *SigV4Check) Verify(body []byte) (Principal, error) {
	sum := sha256.Sum256(body)
	actual := hex.EncodeToString(sum[:])
	var ok bool
	switch {
	case c.claimed == unsignedPayload:
		ok = c.signed || c.v.signatureMatches(c.sr, c.key, c.canonical, unsignedPayload)
	case c.claimed != "":
		if subtle.ConstantTimeCompare([]byte(c.claimed), []byte(actual)) != 1 {
			return Principal{}, fmt.Errorf("%w: X-Amz-Content-Sha256 does not match the body", ErrSigV4Mismatch)
		}
		ok = c.signed || c.v.signatureMatches(c.sr, c.key, c.canonical, actual)
	default:
		ok = c.v.signatureMatches(c.sr, c.key, c.canonical, actual)
		if !ok && c.sr.presigned {
			// A presigned URL carries no body hash: presigners sign
			// either the body's hash or UNSIGNED-PAYLOAD. The second
			// covers no body, so it is accepted only when unsigned
			// payloads are, or when there is no body to cover.
			ok = c.v.signatureMatches(c.sr, c.key, c.canonical, unsignedPayload)
			if ok && len(body) > 0 && !c.v.opts.AllowUnsignedPayload {
				return Principal{}, ErrSigV4Unsigned
			}
		}
	}
	if !ok {
		return Principal{}, ErrSigV4Mismatch
	}
	p := *c.key.principal
	p.Method, p.KeyID = MethodSigV4, c.sr.accessKey
	return p, nil
}

// isSignature reports whether s has the form of a SigV4 signature: a
// lower-case hex HMAC-SHA256, as every signer writes it.
func isSignature(s string) bool {
	return isHexDigest(s) && strings.ToLower(s) == s
}

// isHexDigest reports whether s is a SHA-256 digest in hex.
func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// signatureMatches reports whether sr's signature is key's over the
// canonical request (without its payload line) completed by payloadHash.
func (v *SigV4) signatureMatches(sr *sigV4Request, key *sigV4Key, canonical, payloadHash string) bool {
	scope := sr.date + "/" + sr.region + "/" + sr.service + "/" + sigV4Terminator
	sum := sha256.Sum256([]byte(canonical + payloadHash))
	toSign := sigV4Algorithm + "\n" + sr.amzDate.Format(amzDateFormat) + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	want := hex.EncodeToString(hmacSHA256(key.signingKey(sr.date, sr.region, sr.service), toSign))
	return subtle.ConstantTimeCompare([]byte(want), []byte(sr.signature)) == 1
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// parse reads the Authorization header, or the query of a presigned URL.
func (v *SigV4) parse(r *http.Request) (*sigV4Request, error) {
	q := r.URL.Query()
	if q.Has("X-Amz-Signature") {
		if !v.opts.AllowPresigned {
			return nil, ErrSigV4Presigned
		}
		if q.Get("X-Amz-Algorithm") != sigV4Algorithm {
			return nil, fmt.Errorf("%w: X-Amz-Algorithm must be %s", ErrSigV4Malformed, sigV4Algorithm)
		}
		sr := &sigV4Request{presigned: true, signature: q.Get("X-Amz-Signature"), query: q}
		if err := sr.setCredential(q.Get("X-Amz-Credential")); err != nil {
			return nil, err
		}
		sr.signedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
		secs, err := time.ParseDuration(q.Get("X-Amz-Expires") + "s")
		if err != nil || secs <= 0 || secs > 7*24*time.Hour {
			return nil, fmt.Errorf("%w: X-Amz-Expires must be 1..604800 seconds", ErrSigV4Malformed)
		}
		sr.expires = secs
		if sr.amzDate, err = time.Parse(amzDateFormat, q.Get("X-Amz-Date")); err != nil {
			return nil, fmt.Errorf("%w: X-Amz-Date %q is not yyyyMMddTHHmmssZ", ErrSigV4Malformed, Truncate(q.Get("X-Amz-Date"), 32))
		}
		return sr, sr.checkSignedHeaders()
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, ErrSigV4Missing
	}
	rest, ok := strings.CutPrefix(h, sigV4Algorithm+" ")
	if !ok {
		return nil, fmt.Errorf("%w: the Authorization header must start with %s", ErrSigV4Malformed, sigV4Algorithm)
	}
	sr := &sigV4Request{query: q}
	var haveCred, haveSH, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("%w: Authorization component %q has no '='", ErrSigV4Malformed, Truncate(strings.TrimSpace(name), 32))
		}
		switch name {
		case "Credential":
			if err := sr.setCredential(val); err != nil {
				return nil, err
			}
			haveCred = true
		case "SignedHeaders":
			sr.signedHeaders, haveSH = strings.Split(val, ";"), true
		case "Signature":
			sr.signature, haveSig = val, true
		}
	}
	if !haveCred || !haveSH || !haveSig {
		return nil, fmt.Errorf("%w: the Authorization header needs Credential, SignedHeaders and Signature", ErrSigV4Malformed)
	}
	d := r.Header.Get("X-Amz-Date")
	var err error
	if sr.amzDate, err = time.Parse(amzDateFormat, d); err != nil {
		return nil, fmt.Errorf("%w: X-Amz-Date %q is not yyyyMMddTHHmmssZ", ErrSigV4Malformed, Truncate(d, 32))
	}
	return sr, sr.checkSignedHeaders()
}

func (sr *sigV4Request) setCredential(val string) error {
	parts := strings.Split(val, "/")
	if len(parts) != 5 || parts[4] != sigV4Terminator || parts[0] == "" {
		return fmt.Errorf("%w: Credential must be <access key id>/<date>/<region>/<service>/aws4_request", ErrSigV4Malformed)
	}
	sr.accessKey, sr.date, sr.region, sr.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

// authorityHeader is the HTTP/2 pseudo-header that carries the request's
// authority. Over HTTP/2, AWS accepts it signed in place of host, and the
// AWS SDK for JavaScript signs it so: its host-header middleware replaces
// host with ":authority" = hostname[:port] when the request handler speaks
// h2, and its signer signs every header but a fixed deny list.
const authorityHeader = ":authority"

// checkSignedHeaders requires host or :authority to be signed and the list
// to be the sorted, lower-case list the signer produces.
func (sr *sigV4Request) checkSignedHeaders() error {
	if !isSignature(sr.signature) {
		return fmt.Errorf("%w: the signature must be 64 lower-case hex digits", ErrSigV4Malformed)
	}
	authority := false
	for i, h := range sr.signedHeaders {
		if h == "" || h != strings.ToLower(h) || i > 0 && sr.signedHeaders[i-1] >= h {
			return fmt.Errorf("%w: SignedHeaders must be sorted, lower-case and unique", ErrSigV4Malformed)
		}
		if h == "host" || h == authorityHeader {
			authority = true
		}
	}
	if !authority {
		return fmt.Errorf("%w: SignedHeaders must include host (HTTP/1.1) or :authority (HTTP/2)", ErrSigV4Malformed)
	}
	return nil
}

// canonicalRequest rebuilds the canonical request exactly as aws-sdk-go-v2's
// signer (and, over HTTP/2, the JavaScript SDK's) does: the escaped path escaped once more (docs/bedrock.md, "Signatures and bearer tokens"), the
// query sorted after encoding, and the signed headers' values trimmed. It
// stops before the last line, the payload hash, which the caller appends.
func canonicalRequest(r *http.Request, sr *sigV4Request) (string, error) {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(escapePath(path))
	b.WriteByte('\n')
	q := sr.query
	if sr.presigned {
		q = maps.Clone(q)
		q.Del("X-Amz-Signature")
	}
	b.WriteString(canonicalQuery(q))
	b.WriteByte('\n')
	for _, name := range sr.signedHeaders {
		var val string
		switch name {
		case "host", authorityHeader:
			// net/http puts the authority in r.Host whichever carried
			// it: Host over HTTP/1.1, :authority over HTTP/2. A proxy
			// that turns HTTP/2 into HTTP/1.1 moves :authority to Host,
			// so a signed :authority still verifies behind it.
			val = r.Host
		case "content-length":
			if r.ContentLength < 0 {
				return "", fmt.Errorf("%w: content-length is signed but the request has no length", ErrSigV4Mismatch)
			}
			val = fmt.Sprint(r.ContentLength)
		default:
			vals, ok := r.Header[http.CanonicalHeaderKey(name)]
			if !ok {
				return "", fmt.Errorf("%w: signed header %s is missing", ErrSigV4Mismatch, Truncate(name, 64))
			}
			for i, v := range vals {
				if i > 0 {
					val += ","
				}
				val += strings.TrimSpace(stripExcessSpaces(v))
			}
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(stripExcessSpaces(val))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(sr.signedHeaders, ";"))
	b.WriteByte('\n')
	return b.String(), nil
}

// escapePath escapes every byte but unreserved ones and '/', as
// smithy-go's httpbinding.EscapePath(path, false) does.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' || c == '/' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// canonicalQuery encodes names and values, then sorts by name and value
// (the SigV4 specification sorts after encoding).
func canonicalQuery(q url.Values) string {
	type pair struct{ k, v string }
	var ps []pair
	for k, vs := range q {
		ek := queryEscape(k)
		for _, v := range vs {
			ps = append(ps, pair{ek, queryEscape(v)})
		}
	}
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].k != ps[j].k {
			return ps[i].k < ps[j].k
		}
		return ps[i].v < ps[j].v
	})
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k + "=" + p.v)
	}
	return b.String()
}

func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// stripExcessSpaces trims s and collapses runs of spaces, as the signer does.
func stripExcessSpaces(s string) string {
	s = strings.Trim(s, " ")
	for strings.Contains(s, "  ") {
		s = strings.ReplaceAll(s, "  ", " ")
	}
	return s
}
