package pki

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"
)

// Info describes a certificate for people (`meridian certs inspect`).
type Info struct {
	Subject     string
	Identity    string // spiffe ID, or "" if the certificate names none
	Issuer      string
	Serial      string // hex
	IsCA        bool
	NotBefore   time.Time
	NotAfter    time.Time
	DaysLeft    int // whole days until NotAfter; negative when expired
	DNSNames    []string
	IPs         []string
	SHA256      string // hex fingerprint of the DER certificate
	IdentityErr error  // why Identity is empty, for node certificates
}

// Inspect describes cert as of now.
func Inspect(cert *x509.Certificate, now time.Time) Info {
	fp := sha256.Sum256(cert.Raw)
	info := Info{
		Subject:   cert.Subject.String(),
		Issuer:    cert.Issuer.String(),
		Serial:    hex.EncodeToString(cert.SerialNumber.Bytes()),
		IsCA:      cert.IsCA,
		NotBefore: cert.NotBefore,
		NotAfter:  cert.NotAfter,
		DaysLeft:  int(cert.NotAfter.Sub(now).Hours() / 24),
		DNSNames:  cert.DNSNames,
		SHA256:    hex.EncodeToString(fp[:]),
	}
	if cert.NotAfter.Before(now) {
		info.DaysLeft = -int(now.Sub(cert.NotAfter).Hours()/24) - 1
	}
	for _, ip := range cert.IPAddresses {
		info.IPs = append(info.IPs, ip.String())
	}
	if cert.IsCA {
		for _, u := range cert.URIs {
			if u.Scheme == "spiffe" {
				info.Identity = u.String()
			}
		}
		return info
	}
	if id, err := IdentityFromCertificate(cert); err == nil {
		info.Identity = id.String()
	} else {
		info.IdentityErr = err
	}
	return info
}

// WriteText writes info as aligned "key: value" lines.
func (info Info) WriteText(w io.Writer) error {
	identity := info.Identity
	switch {
	case identity == "" && info.IdentityErr != nil:
		identity = "none (" + info.IdentityErr.Error() + ")"
	case info.IsCA && identity != "":
		identity = "CA for trust domain " + strings.TrimPrefix(identity, "spiffe://")
	case info.IsCA:
		identity = "CA"
	}
	expiry := fmt.Sprintf("%d days left", info.DaysLeft)
	if info.DaysLeft < 0 {
		expiry = "EXPIRED"
	}
	lines := [][2]string{
		{"identity", identity},
		{"subject", info.Subject},
		{"issuer", info.Issuer},
		{"serial", info.Serial},
		{"not before", info.NotBefore.UTC().Format(time.RFC3339)},
		{"not after", info.NotAfter.UTC().Format(time.RFC3339) + " (" + expiry + ")"},
	}
	if len(info.DNSNames) > 0 {
		lines = append(lines, [2]string{"dns names", strings.Join(info.DNSNames, ", ")})
	}
	if len(info.IPs) > 0 {
		lines = append(lines, [2]string{"ip addresses", strings.Join(info.IPs, ", ")})
	}
	lines = append(lines, [2]string{"sha256", info.SHA256})
	for _, l := range lines {
		if _, err := fmt.Fprintf(w, "%-13s %s\n", l[0]+":", l[1]); err != nil {
			return err
		}
	}
	return nil
}
