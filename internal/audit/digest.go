package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// DigestVersion is the version of the digest format written by this package.
const DigestVersion = "1.0"

// Digest is a signed statement that a range of events, and the files holding
// them, looked exactly so when it was written. Digests form their own chain:
// each carries the SHA-256 of the previous digest file's bytes.
//
// A digest file is the JSON of a Digest on one line followed by a newline;
// Signature is the base64 ed25519 signature of that line (without the
// newline) with the signature value emptied, i.e. ending in "signature":""}.
type Digest struct {
	DigestVersion string `json:"digestVersion"`
	// Region is the recording region whose log this digest covers.
	Region string `json:"region"`
	// Sequence numbers digests from 1 without gaps.
	Sequence   uint64 `json:"sequence"`
	DigestTime Time   `json:"digestTime"`
	// FirstEventSeq..LastEventSeq is the range of events (1-based positions in
	// the log) that this digest adds; FirstEventSeq is the previous digest's
	// LastEventSeq+1.
	FirstEventSeq uint64 `json:"firstEventSeq"`
	LastEventSeq  uint64 `json:"lastEventSeq"`
	FirstEventID  string `json:"firstEventId"`
	LastEventID   string `json:"lastEventId"`
	// LastEventHash is the hash of event LastEventSeq: the head of the chain.
	LastEventHash string `json:"lastEventHash"`
	// Files lists every log file holding events of the range, in order.
	Files []FileCoverage `json:"files"`
	// PreviousDigestHash is the hex SHA-256 of the previous digest file's
	// bytes, or [GenesisHash] for the first digest.
	PreviousDigestHash string `json:"previousDigestHash"`
	// KeyID is [KeyID] of the signing key.
	KeyID     string `json:"keyId"`
	Signature string `json:"signature"`
}

// FileCoverage states the content of a log file up to the end of a digest's
// range. Size, Lines and SHA256 describe the file's first Size bytes, from
// the start of the file (not only the bytes added since the previous digest),
// so each digest vouches for the whole prefix.
type FileCoverage struct {
	Name     string `json:"name"`
	FirstSeq uint64 `json:"firstSeq"`
	Lines    int64  `json:"lines"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
}

const sigB64Len = 88 // base64 of a 64-byte ed25519 signature

// signDigest encodes d, signs it with priv and returns the digest file bytes.
func signDigest(d *Digest, priv ed25519.PrivateKey) ([]byte, error) {
	c := *d
	c.Signature = ""
	body, err := json.Marshal(&c)
	if err != nil {
		return nil, fmt.Errorf("encode digest: %w", err)
	}
	if !bytes.HasSuffix(body, []byte(`"signature":""}`)) {
		panic("audit: digest encoding does not end with signature")
	}
	sig := base64.StdEncoding.EncodeToString(ed25519.Sign(priv, body))
	out := make([]byte, 0, len(body)+len(sig)+1)
	out = append(out, body[:len(body)-2]...)
	out = append(out, sig...)
	out = append(out, '"', '}', '\n')
	d.Signature = sig
	return out, nil
}

// parseDigest decodes a digest file and checks its signature with the key
// among keys whose [KeyID] the digest names (no check when keys is empty).
// It returns the digest and the hex SHA-256 of the file's bytes.
// errUnknownKey is parseDigest's error for a digest whose keyId is none
// of the keys given.
var errUnknownKey = errors.New("signed by a key not given")

func parseDigest(b []byte, keys []ed25519.PublicKey) (*Digest, string, error) {
	sum := sha256.Sum256(b)
	fileHash := hex.EncodeToString(sum[:])
	line := bytes.TrimSuffix(b, []byte{'\n'})
	var d Digest
	if err := json.Unmarshal(line, &d); err != nil {
		return nil, fileHash, fmt.Errorf("decode digest: %w", err)
	}
	if len(keys) == 0 {
		return &d, fileHash, nil
	}
	var pub ed25519.PublicKey
	for _, k := range keys {
		if KeyID(k) == d.KeyID {
			pub = k
		}
	}
	if pub == nil {
		// Signed (it says) by a key the verifier was not given: after a
		// rotation, the older or newer key. Not evidence of forgery
		// either way, and nothing to check the signature with.
		return &d, fileHash, errUnknownKey
	}
	n := len(line)
	const key = `"signature":"`
	if n < len(key)+sigB64Len+2 || !bytes.HasSuffix(line, []byte(`"}`)) ||
		!bytes.Equal(line[n-2-sigB64Len-len(key):n-2-sigB64Len], []byte(key)) {
		return &d, fileHash, errors.New(`digest does not end with "signature":"<base64>"}`)
	}
	sig, err := base64.StdEncoding.DecodeString(string(line[n-2-sigB64Len : n-2]))
	if err != nil {
		return &d, fileHash, fmt.Errorf("decode signature: %w", err)
	}
	msg := make([]byte, 0, n-sigB64Len)
	msg = append(msg, line[:n-2-sigB64Len]...)
	msg = append(msg, '"', '}')
	if !ed25519.Verify(pub, msg, sig) {
		return &d, fileHash, fmt.Errorf("signature does not verify with the public key %s it names", d.KeyID)
	}
	return &d, fileHash, nil
}
