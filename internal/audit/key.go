package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Key files are PEM: the private key is PKCS #8 ("PRIVATE KEY"), the public
// key PKIX ("PUBLIC KEY"), as `openssl genpkey -algorithm ed25519` writes
// them. [ParsePublicKey] also accepts the raw 32-byte key in base64.

// KeyID names a public key in digests: the first 16 hex digits of the
// SHA-256 of the raw 32-byte key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKey creates a new key pair and writes the private key to
// dir/audit-key (mode 0600) and the public key to dir/audit-key.pub (0644).
// It refuses to overwrite an existing private key. It returns both paths.
func GenerateKey(dir string) (privPath, pubPath string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("create key directory: %w", err)
	}
	privPath = filepath.Join(dir, DefaultKeyName)
	pubPath = privPath + ".pub"
	if _, err := writeNewKey(privPath); err != nil {
		return "", "", err
	}
	return privPath, pubPath, nil
}

// writeNewKey generates a key, writes it to path (failing if path exists) and
// its public half to path+".pub".
func writeNewKey(path string) (ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate audit key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode audit key: %w", err)
	}
	// Write a temporary file and link it into place, so that a concurrent
	// reader never sees a half-written key and an existing key is never
	// overwritten (Link fails with ErrExist).
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("create audit key %s: %w", path, fs.ErrExist)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".audit-key-*")
	if err != nil {
		return nil, fmt.Errorf("create audit key: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("create audit key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("write audit key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write audit key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write audit key %s: %w", path, err)
	}
	if err := os.Link(f.Name(), path); err != nil {
		return nil, fmt.Errorf("create audit key: %w", err)
	}
	if err := os.WriteFile(path+".pub", EncodePublicKey(pub), 0o644); err != nil {
		return nil, fmt.Errorf("write audit public key: %w", err)
	}
	return priv, nil
}

// EncodePublicKey returns pub as a PEM "PUBLIC KEY" block.
func EncodePublicKey(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic("audit: encode ed25519 public key: " + err.Error()) // cannot fail for ed25519
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// ReadPrivateKey reads a PEM PKCS #8 ed25519 private key.
func ReadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("read audit key %s: no PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("read audit key %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("read audit key %s: %T is not an ed25519 key", path, k)
	}
	return priv, nil
}

// ParsePublicKey decodes a public key from a PEM "PUBLIC KEY" block or from
// the base64 of the raw 32-byte key.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	if blk, _ := pem.Decode(b); blk != nil {
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\"", blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, err
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%T is not an ed25519 key", k)
		}
		return pub, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, errors.New("neither a PEM \"PUBLIC KEY\" block nor base64")
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("base64 key is %d bytes, want %d", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// ReadPublicKey reads a file for [ParsePublicKey].
func ReadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read public key: %w", err)
	}
	pub, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("read public key %s: %w", path, err)
	}
	return pub, nil
}

// loadKey reads the configured key. The default key is created when missing
// (created reports that); a configured KeyFile must exist.
func loadKey(cfg Config) (priv ed25519.PrivateKey, path string, created bool, err error) {
	path, isDefault := cfg.keyFile()
	priv, err = ReadPrivateKey(path)
	if err == nil || !isDefault || !errors.Is(err, fs.ErrNotExist) {
		return priv, path, false, err
	}
	priv, err = writeNewKey(path)
	if errors.Is(err, fs.ErrExist) {
		// Another region's writer in this process created it first.
		priv, err = ReadPrivateKey(path)
		return priv, path, false, err
	}
	return priv, path, err == nil, err
}

// within reports whether path lies in dir or below it (after making both
// absolute; false when either cannot be).
func within(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
