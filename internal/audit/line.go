package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// GenesisHash is the prevHash of the first event of a log.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

const (
	hashHexLen = 2 * sha256.Size
	// unsealedTail ends every marshalled event before it is sealed.
	unsealedTail = `","hash":""}`
	// sealedKey precedes the hash value at the end of a sealed line.
	sealedKey = `"hash":"`
)

// marshalEvent encodes e with a placeholder prevHash and an empty hash. The
// result ends in `"prevHash":"<64 zeros>","hash":""}` so that [seal] can fill
// in the chain without encoding again. It runs on the caller's goroutine,
// which keeps JSON encoding out of the writer's single-threaded loop.
func marshalEvent(e *Event) ([]byte, error) {
	c := *e
	return appendUnsealed(make([]byte, 0, 1024), &c), nil
}

// appendUnsealed is marshalEvent appending to dst, for an event the caller
// owns: it sets e's PrevHash and Hash to the placeholders (and nil Attempts
// to empty) instead of encoding a copy.
func appendUnsealed(dst []byte, e *Event) []byte {
	e.PrevHash = GenesisHash
	e.Hash = ""
	if e.Attempts == nil {
		e.Attempts = []Attempt{}
	}
	b := appendEvent(dst, e)
	if !bytes.HasSuffix(b, []byte(`"prevHash":"`+GenesisHash+unsealedTail)) {
		// Event's last two fields are prevHash and hash; anything else is a
		// programmer error in this file.
		panic("audit: event encoding does not end with prevHash, hash")
	}
	return b
}

// seal fills prevHash into the unsealed body (modifying it), hashes it, and
// appends the sealed line, newline included, to dst. It returns the extended
// dst and the event's hash.
func seal(dst, body []byte, prevHash string) ([]byte, string) {
	off := len(body) - len(unsealedTail) - hashHexLen
	copy(body[off:], prevHash)
	sum := sha256.Sum256(body)
	var h [hashHexLen]byte
	hex.Encode(h[:], sum[:])
	// body ends in `"hash":""}`; the sealed line ends in `"hash":"<hex>"}`.
	dst = append(dst, body[:len(body)-2]...)
	dst = append(dst, h[:]...)
	dst = append(dst, '"', '}', '\n')
	return dst, string(h[:])
}

// lineHash recomputes the hash of a sealed line (without its newline) and
// returns it with the hash the line claims.
func lineHash(line []byte) (computed, claimed string, err error) {
	n := len(line)
	if n < len(sealedKey)+hashHexLen+2 || !bytes.HasSuffix(line, []byte(`"}`)) ||
		!bytes.Equal(line[n-2-hashHexLen-len(sealedKey):n-2-hashHexLen], []byte(sealedKey)) {
		return "", "", errors.New(`line does not end with "hash":"<64 hex digits>"}`)
	}
	claimedB := line[n-2-hashHexLen : n-2]
	if !isLowerHex(claimedB) {
		return "", "", errors.New("hash is not 64 lower-case hex digits")
	}
	h := sha256.New()
	h.Write(line[:n-2-hashHexLen])
	h.Write([]byte(`"}`))
	return hex.EncodeToString(h.Sum(nil)), string(claimedB), nil
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// errHashMismatch is returned by [ParseLine] for a well-formed line whose
// bytes do not match its hash.
var errHashMismatch = errors.New("hash does not match the line")

// ParseLine decodes one line of a log file (without its newline) and checks
// that its bytes match its hash. It does not check the link to the previous
// event. On a hash mismatch it returns the decoded event with an error.
func ParseLine(line []byte) (*Event, error) {
	computed, claimed, err := lineHash(line)
	if err != nil {
		return nil, err
	}
	var e Event
	if err := json.Unmarshal(line, &e); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if e.Hash != claimed {
		return nil, errors.New("hash field appears twice")
	}
	if len(e.PrevHash) != hashHexLen || !isLowerHex([]byte(e.PrevHash)) {
		return nil, errors.New("prevHash is not 64 lower-case hex digits")
	}
	if computed != claimed {
		return &e, fmt.Errorf("%w: computed %s, line says %s", errHashMismatch, computed, claimed)
	}
	return &e, nil
}

// chainLine is what the verify walk needs of a line.
type chainLine struct {
	hash, prevHash string
	eventTime      time.Time // zero if the line has no readable eventTime
}

// chainTail is how every sealed line ends; the 64-digit values follow
// prevHashKey and sealedKey.
const prevHashKey = `,"prevHash":"`

// parseChainLine is the verify walk's parser: it checks that line (without
// its newline) is valid JSON ending in "prevHash":"<hex>","hash":"<hex>"},
// and that its bytes match its hash, without decoding the whole event. It
// reads the two hashes from their fixed place at the end of the line, which
// is also where JSON semantics take them from (the last of duplicate keys
// wins), and eventTime from its first occurrence, for the report only.
// Errors wrap errHashMismatch when only the hash is wrong.
func parseChainLine(line []byte) (chainLine, error) {
	computed, claimed, err := lineHash(line)
	if err != nil {
		return chainLine{}, err
	}
	if !json.Valid(line) {
		return chainLine{}, errors.New("line is not valid JSON")
	}
	n := len(line)
	tail := len(prevHashKey) + hashHexLen + len(`",`) + len(sealedKey) + hashHexLen + len(`"}`)
	if n < tail || !bytes.Equal(line[n-tail:n-tail+len(prevHashKey)], []byte(prevHashKey)) ||
		!bytes.Equal(line[n-tail+len(prevHashKey)+hashHexLen:n-tail+len(prevHashKey)+hashHexLen+2], []byte(`",`)) {
		return chainLine{}, errors.New(`line does not end with "prevHash":"<hex>","hash":"<hex>"}`)
	}
	prev := line[n-tail+len(prevHashKey) : n-tail+len(prevHashKey)+hashHexLen]
	if !isLowerHex(prev) {
		return chainLine{}, errors.New("prevHash is not 64 lower-case hex digits")
	}
	c := chainLine{hash: claimed, prevHash: string(prev)}
	if i := bytes.Index(line, []byte(`"eventTime":"`)); i >= 0 {
		rest := line[i+len(`"eventTime":"`):]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			c.eventTime, _ = time.Parse(time.RFC3339Nano, string(rest[:j]))
		}
	}
	if computed != claimed {
		return c, fmt.Errorf("%w: computed %s, line says %s", errHashMismatch, computed, claimed)
	}
	return c, nil
}
