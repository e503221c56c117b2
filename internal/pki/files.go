package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/meridian-gateway/meridian/internal/atomicfile"
)

// File names inside a certificate directory made by `meridian certs`.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// NodeCertFile and NodeKeyFile return the file names of region's
// certificate and key inside a certificate directory: "<region>.crt" and
// "<region>.key", so a link config can say cert_file: certs/{region}.crt.
func NodeCertFile(region string) string { return region + ".crt" }

// NodeKeyFile: see [NodeCertFile].
func NodeKeyFile(region string) string { return region + ".key" }

// File modes: private keys are readable by their owner only.
const (
	keyFileMode  fs.FileMode = 0o600
	certFileMode fs.FileMode = 0o644
)

// InitDir creates dir (mode 0700) if needed and writes a new CA into it as
// ca.crt and ca.key. It refuses to overwrite an existing ca.key, which
// would orphan every certificate already issued.
func InitDir(dir string, opts CAOptions) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create certificate directory: %w", err)
	}
	keyPath := filepath.Join(dir, CAKeyFile)
	if _, err := os.Stat(keyPath); err == nil {
		return nil, fmt.Errorf("init CA: %s already exists; remove it to start a new CA (every issued certificate will stop being trusted)", keyPath)
	}
	ca, err := NewCA(opts)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(ca.Key)
	if err != nil {
		return nil, err
	}
	if err := WriteFile(keyPath, keyPEM, keyFileMode); err != nil {
		return nil, err
	}
	if err := WriteFile(filepath.Join(dir, CACertFile), encodeCert(ca.Cert), certFileMode); err != nil {
		return nil, err
	}
	return ca, nil
}

// LoadCA reads ca.crt and ca.key from dir.
func LoadCA(dir string) (*CA, error) {
	certs, err := ReadCertificates(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, err
	}
	keyPath := filepath.Join(dir, CAKeyFile)
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("read CA key: %w", err)
	}
	key, err := parseECKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("read CA key %s: %w", keyPath, err)
	}
	if !key.PublicKey.Equal(certs[0].PublicKey) {
		return nil, fmt.Errorf("load CA from %s: %w", dir, ErrKeyMismatch)
	}
	return &CA{Cert: certs[0], Key: key}, nil
}

// IssueFiles loads the CA from dir, issues a node certificate and writes it
// as <region>.crt and <region>.key, replacing any earlier pair (this is how
// a certificate is rotated). Each file is replaced atomically; the key is
// written first. It returns the two paths.
func IssueFiles(dir string, opts NodeOptions) (certPath, keyPath string, issued *Issued, err error) {
	ca, err := LoadCA(dir)
	if err != nil {
		return "", "", nil, err
	}
	issued, err = ca.Issue(opts)
	if err != nil {
		return "", "", nil, err
	}
	keyPEM, err := issued.KeyPEM()
	if err != nil {
		return "", "", nil, err
	}
	certPath = filepath.Join(dir, NodeCertFile(opts.Region))
	keyPath = filepath.Join(dir, NodeKeyFile(opts.Region))
	if err := WriteFile(keyPath, keyPEM, keyFileMode); err != nil {
		return "", "", nil, err
	}
	if err := WriteFile(certPath, issued.CertPEM(), certFileMode); err != nil {
		return "", "", nil, err
	}
	return certPath, keyPath, issued, nil
}

// WriteFile atomically replaces path with data: it writes a temporary file
// in the same directory with mode perm, syncs it and renames it over path,
// so a reader (such as a [Store] polling the file) sees the old or the new
// content, never a torn write.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	if err := atomicfile.Write(path, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadCertificates reads every CERTIFICATE block of a PEM file, in order.
// Other block types are skipped; a file without certificates is an error
// wrapping [ErrNoCertificate].
func ReadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	certs, err := ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("read certificates from %s: %w", path, err)
	}
	return certs, nil
}

// ParseCertificates parses every CERTIFICATE block of PEM data, in order.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, ErrNoCertificate
	}
	return certs, nil
}

func parseECKey(data []byte) (*ecdsa.PrivateKey, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, errors.New("no private key PEM block")
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			ec, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, errNotECDSA
			}
			return ec, nil
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(b.Bytes)
		}
	}
}
