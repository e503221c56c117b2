package policy

import (
	"iter"
	"net/netip"
	"strconv"
	"time"
)

// Context keys the gateway sets. Key names are case-insensitive, as in IAM;
// these constants give the canonical spelling.
const (
	// KeyRequestedRegion is aws:RequestedRegion: for inference actions the
	// region whose resource is being checked (the source region for the
	// profile ARN, the destination region for the foundation-model ARN), as
	// Bedrock evaluates it.
	KeyRequestedRegion = "aws:RequestedRegion"
	// KeySourceIP is aws:SourceIp, the client's IP address without a port
	// (IPv4-mapped IPv6 addresses match IPv4 blocks).
	KeySourceIP = "aws:SourceIp"
	// KeyCurrentTime is aws:CurrentTime, an RFC 3339 time. See
	// [Context.SetCurrentTime] for an allocation-free way to provide it.
	KeyCurrentTime = "aws:CurrentTime"
	// KeyEpochTime is aws:EpochTime, seconds since the Unix epoch.
	KeyEpochTime = "aws:EpochTime"
	// KeySecureTransport is aws:SecureTransport, "true" or "false".
	KeySecureTransport = "aws:SecureTransport"
	// KeyUsername is aws:username, the principal's username.
	KeyUsername = "aws:username"
	// KeyUserID is aws:userid, the principal's id.
	KeyUserID = "aws:userid"
	// KeyPrincipalARN is aws:PrincipalArn, the principal's ARN:
	// arn:<partition>:iam::<account>:user/<username> (the form of an IAM
	// user's ARN; the username defaults to the principal's id).
	KeyPrincipalARN = "aws:PrincipalArn"
	// KeyPrincipalAccount is aws:PrincipalAccount, the topology's account.
	KeyPrincipalAccount = "aws:PrincipalAccount"
	// KeyPrincipalType is aws:PrincipalType, always "User" (a Meridian
	// principal is a named caller with long-term credentials, as an IAM user).
	KeyPrincipalType = "aws:PrincipalType"
	// KeyPrincipalIsAWSService is aws:PrincipalIsAWSService, always "false".
	KeyPrincipalIsAWSService = "aws:PrincipalIsAWSService"
	// KeyViaAWSService is aws:ViaAWSService, always "false" (no AWS service
	// calls Meridian on a principal's behalf).
	KeyViaAWSService = "aws:ViaAWSService"
	// KeyTagKeys is aws:TagKeys, the tag keys in a create or tag request
	// (multi-valued).
	KeyTagKeys = "aws:TagKeys"
	// KeyInferenceProfileARN is bedrock:InferenceProfileArn, set on the
	// foundation-model check of a profile invocation.
	KeyInferenceProfileARN = "bedrock:InferenceProfileArn"
	// KeySourceRegion is meridian:SourceRegion, the region where the request
	// entered Meridian.
	KeySourceRegion = "meridian:SourceRegion"
	// KeyGeography is meridian:Geography, the geography of the source region.
	KeyGeography = "meridian:Geography"

	// PrefixPrincipalTag begins aws:PrincipalTag/<tag-key>, the principal's tags.
	PrefixPrincipalTag = "aws:PrincipalTag/"
	// PrefixRequestTag begins aws:RequestTag/<tag-key>, tags in a create or
	// tag request.
	PrefixRequestTag = "aws:RequestTag/"
	// PrefixResourceTag begins aws:ResourceTag/<tag-key>, the tags of the
	// resource (application inference profiles).
	PrefixResourceTag = "aws:ResourceTag/"
)

// keyID numbers the fixed keys so that lookups compare integers instead of
// folding strings. Zero means any other key.
type keyID uint8

const (
	keyOther keyID = iota
	keyRequestedRegion
	keySourceIP
	keyCurrentTime
	keyEpochTime
	keySecureTransport
	keyUsername
	keyUserID
	keyTagKeys
	keyPrincipalARN
	keyPrincipalAccount
	keyPrincipalType
	keyPrincipalIsAWSService
	keyViaAWSService
	keyInferenceProfileARN
	keySourceRegion
	keyGeography
	numKeyIDs
)

var knownKeys = [numKeyIDs]string{
	keyRequestedRegion:       KeyRequestedRegion,
	keySourceIP:              KeySourceIP,
	keyCurrentTime:           KeyCurrentTime,
	keyEpochTime:             KeyEpochTime,
	keySecureTransport:       KeySecureTransport,
	keyUsername:              KeyUsername,
	keyUserID:                KeyUserID,
	keyTagKeys:               KeyTagKeys,
	keyPrincipalARN:          KeyPrincipalARN,
	keyPrincipalAccount:      KeyPrincipalAccount,
	keyPrincipalType:         KeyPrincipalType,
	keyPrincipalIsAWSService: KeyPrincipalIsAWSService,
	keyViaAWSService:         KeyViaAWSService,
	keyInferenceProfileARN:   KeyInferenceProfileARN,
	keySourceRegion:          KeySourceRegion,
	keyGeography:             KeyGeography,
}

// identify returns the id of a fixed key, or keyOther.
func identify(key string) keyID {
	for id := keyOther + 1; id < numKeyIDs; id++ {
		if equalFoldASCII(knownKeys[id], key) {
			return id
		}
	}
	return keyOther
}

// keyRef is a context key named in a policy, identified once at load time.
type keyRef struct {
	name        string
	id          keyID
	resourceTag bool // an aws:ResourceTag/<key> key
}

func newKeyRef(name string) keyRef {
	return keyRef{
		name:        name,
		id:          identify(name),
		resourceTag: len(name) > len(PrefixResourceTag) && equalFoldASCII(name[:len(PrefixResourceTag)], PrefixResourceTag),
	}
}

// pair is one value of one context key.
type pair struct {
	key   string
	id    keyID
	value string
}

// Context is the request context: context keys, each with one or more
// string values. Adding a key several times gives it several values
// (multi-valued keys such as aws:TagKeys); a key with no value is absent.
// Key names are case-insensitive.
//
// A Context is built for each request and is meant to be reused: [Context.Reset]
// keeps its storage, so a gateway that keeps one Context per worker adds
// keys without allocating. The zero value is an empty context. A Context
// must not be modified while an evaluation that uses it runs; evaluations
// never modify it.
type Context struct {
	pairs  []pair
	now    time.Time
	hasNow bool
	// sourceIP caches the parsed aws:SourceIp, which IpAddress conditions
	// would otherwise parse once per statement.
	sourceIP    netip.Addr
	sourceIPStr string
	hasSourceIP bool
}

// NewContext returns an empty context with room for n values.
func NewContext(n int) *Context { return &Context{pairs: make([]pair, 0, n)} }

// Reset empties the context, keeping its storage for reuse.
func (c *Context) Reset() {
	clear(c.pairs) // drop references to the old strings
	c.pairs = c.pairs[:0]
	c.now, c.hasNow = time.Time{}, false
	c.sourceIP, c.sourceIPStr, c.hasSourceIP = netip.Addr{}, "", false
}

// Add adds value to key's values.
func (c *Context) Add(key, value string) {
	id := identify(key)
	c.pairs = append(c.pairs, pair{key: key, id: id, value: value})
	if id == keySourceIP && !c.hasSourceIP {
		if a, err := netip.ParseAddr(value); err == nil {
			c.sourceIP, c.sourceIPStr, c.hasSourceIP = a.Unmap(), value, true
		}
	}
}

// addr parses an IP address, using the cached aws:SourceIp when it is that
// value.
func (c *Context) addr(s string) (netip.Addr, bool) {
	if c.hasSourceIP && s == c.sourceIPStr {
		return c.sourceIP, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// Set replaces all of key's values with value.
func (c *Context) Set(key, value string) {
	c.Del(key)
	c.Add(key, value)
}

// Del removes key and all its values.
func (c *Context) Del(key string) {
	k := newKeyRef(key)
	if k.id == keySourceIP {
		c.sourceIP, c.sourceIPStr, c.hasSourceIP = netip.Addr{}, "", false
	}
	out := c.pairs[:0]
	for _, p := range c.pairs {
		if !k.matches(&p) {
			out = append(out, p)
		}
	}
	clear(c.pairs[len(out):])
	c.pairs = out
}

// SetCurrentTime provides aws:CurrentTime and aws:EpochTime from t without
// formatting it: Date operators compare t directly. Values added for those
// keys with [Context.Add] take precedence.
func (c *Context) SetCurrentTime(t time.Time) { c.now, c.hasNow = t, true }

// Get returns key's first value and whether the key is present.
func (c *Context) Get(key string) (string, bool) {
	v := view{c: c}
	k := newKeyRef(key)
	it := v.values(&k)
	return it.next()
}

// All yields every key and value in the order they were added, followed by
// the derived time keys when [Context.SetCurrentTime] was used.
func (c *Context) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for _, p := range c.pairs {
			if !yield(p.key, p.value) {
				return
			}
		}
		if !c.hasNow {
			return
		}
		for _, id := range []keyID{keyCurrentTime, keyEpochTime} {
			k := keyRef{name: knownKeys[id], id: id}
			if c.has(&k) {
				continue
			}
			if !yield(k.name, formatTime(id, c.now)) {
				return
			}
		}
	}
}

func (c *Context) has(k *keyRef) bool {
	for i := range c.pairs {
		if k.matches(&c.pairs[i]) {
			return true
		}
	}
	return false
}

func (k *keyRef) matches(p *pair) bool {
	if k.id != keyOther {
		return p.id == k.id
	}
	return p.id == keyOther && equalFoldASCII(p.key, k.name)
}

func formatTime(id keyID, t time.Time) string {
	if id == keyEpochTime {
		return strconv.FormatInt(t.Unix(), 10)
	}
	return t.UTC().Format(time.RFC3339)
}

// view is a Context as one check sees it: the caller's keys with, for the
// checks of a profile invocation, aws:RequestedRegion and
// bedrock:InferenceProfileArn replaced. It lets one Context serve every check
// of an invocation without being copied or modified.
type view struct {
	c              *Context
	region         string
	hasRegion      bool
	profile        string
	hasProfile     bool
	noResourceTags bool // hide aws:ResourceTag/* (the checked resource has no tags)
}

// override returns the replacement value of a key the view replaces.
func (v *view) override(k *keyRef) (val string, replaced bool) {
	switch {
	case k.id == keyRequestedRegion && v.hasRegion:
		return v.region, true
	case k.id == keyInferenceProfileARN && v.hasProfile:
		return v.profile, true
	}
	return "", false
}

// valueIter walks the values of one key.
type valueIter struct {
	v       *view
	k       *keyRef
	i       int
	state   uint8 // 0: start, 1: pairs, 2: done
	derived bool  // the derived time value has been yielded
}

func (v *view) values(k *keyRef) valueIter { return valueIter{v: v, k: k} }

// next returns the next value. The derived aws:CurrentTime and aws:EpochTime
// values are formatted here, which allocates; Date operators avoid that
// through view.time.
func (it *valueIter) next() (string, bool) {
	if it.state == 0 && it.v.noResourceTags && it.k.resourceTag {
		it.state = 2
	}
	if it.state == 0 {
		if val, ok := it.v.override(it.k); ok {
			it.state = 2
			return val, true
		}
		it.state = 1
	}
	if it.state == 1 {
		pairs := it.v.c.pairs
		for it.i < len(pairs) {
			p := &pairs[it.i]
			it.i++
			if it.k.matches(p) {
				it.derived = true // a real value hides the derived one
				return p.value, true
			}
		}
		it.state = 2
		if !it.derived && it.v.c.hasNow && (it.k.id == keyCurrentTime || it.k.id == keyEpochTime) {
			it.derived = true
			return formatTime(it.k.id, it.v.c.now), true
		}
	}
	return "", false
}

// has reports whether k has at least one value.
func (v *view) has(k *keyRef) bool {
	if v.noResourceTags && k.resourceTag {
		return false
	}
	if _, ok := v.override(k); ok {
		return true
	}
	if v.c.has(k) {
		return true
	}
	return v.c.hasNow && (k.id == keyCurrentTime || k.id == keyEpochTime)
}

// time returns the current time when k is a time key provided by
// [Context.SetCurrentTime] and not given as a string.
func (v *view) time(k *keyRef) (time.Time, bool) {
	if !v.c.hasNow || (k.id != keyCurrentTime && k.id != keyEpochTime) || v.c.has(k) {
		return time.Time{}, false
	}
	if k.id == keyEpochTime {
		return v.c.now.Truncate(time.Second), true
	}
	return v.c.now, true
}

// resolve returns the value of a policy variable: the key's value if it has
// exactly one, else the variable's default, else false (the variable cannot
// be resolved and whatever contains it matches nothing).
func (v *view) resolve(vr *variable) (string, bool) {
	if v != nil && v.c != nil {
		it := v.values(&vr.key)
		val, ok := it.next()
		if ok {
			if _, more := it.next(); !more {
				return val, true
			}
		}
	}
	if vr.hasDefault {
		return vr.def, true
	}
	return "", false
}
