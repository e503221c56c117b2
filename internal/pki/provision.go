package pki

import (
	"fmt"
	"path/filepath"
)

// Provision creates a CA in dir (see [InitDir]) and issues a certificate for
// each region, and returns the link configuration that uses them, with
// cert_file and key_file as "{region}" templates. `meridian demo` uses it to
// run the real mTLS link without any setup step.
func Provision(dir, trustDomain string, regions ...string) (LinkConfig, error) {
	ca, err := InitDir(dir, CAOptions{TrustDomain: trustDomain})
	if err != nil {
		return LinkConfig{}, err
	}
	for _, r := range regions {
		if _, _, _, err := IssueFiles(dir, NodeOptions{Region: r}); err != nil {
			return LinkConfig{}, fmt.Errorf("provision link certificates: %w", err)
		}
	}
	return LinkConfig{
		TrustDomain: ca.TrustDomain(),
		CAFile:      filepath.Join(dir, CACertFile),
		CertFile:    filepath.Join(dir, NodeCertFile("{region}")),
		KeyFile:     filepath.Join(dir, NodeKeyFile("{region}")),
	}, nil
}
