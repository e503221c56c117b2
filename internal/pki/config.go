package pki

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultEnvelopeWindow is the envelope freshness window used when
// LinkConfig.EnvelopeWindow is zero.
const DefaultEnvelopeWindow = 30 * time.Second

// Duration is a time.Duration that reads and writes as a Go duration
// string ("30s", "336h") in YAML and JSON.
type Duration time.Duration

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a Go duration such as 30s or 336h", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes d as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// LinkConfig mirrors the topology file's top-level `link:` section.
type LinkConfig struct {
	// TrustDomain of every node identity. If empty, "meridian".
	TrustDomain string `yaml:"trust_domain" json:"trust_domain"`
	// CAFile is the PEM bundle of trusted link CAs.
	CAFile string `yaml:"ca_file" json:"ca_file"`
	// CertFile and KeyFile are the node's certificate and key; "{region}"
	// is replaced by the node's region id ([LinkConfig.ForRegion]).
	CertFile string `yaml:"cert_file" json:"cert_file"`
	KeyFile  string `yaml:"key_file" json:"key_file"`
	// EnvelopeWindow is how far an envelope's issued-at may be from the
	// receiver's clock, either way. If zero, 30s.
	EnvelopeWindow Duration `yaml:"envelope_window" json:"envelope_window"`
	// ExpiryWarning is how long before expiry certificates are warned
	// about. If zero, 336h (14 days).
	ExpiryWarning Duration `yaml:"expiry_warning" json:"expiry_warning"`
	// InsecureDevLink turns mTLS and envelopes off. Development only:
	// `serve` refuses it unless also given --dev.
	InsecureDevLink bool `yaml:"insecure_dev_link" json:"insecure_dev_link"`
}

// RegionPlaceholder is what a per-node setting of the shared topology
// (the link's files, the quota store's Redis URL and key prefix) writes
// where each node puts its own region id.
const RegionPlaceholder = "{region}"

// ExpandRegion returns s with every [RegionPlaceholder] replaced by region.
func ExpandRegion(s, region string) string {
	return strings.ReplaceAll(s, RegionPlaceholder, region)
}

// ForRegion returns c with "{region}" in CAFile, CertFile and KeyFile
// replaced by region and zero durations and trust domain set to their
// defaults.
func (c LinkConfig) ForRegion(region string) LinkConfig {
	c.CAFile = ExpandRegion(c.CAFile, region)
	c.CertFile = ExpandRegion(c.CertFile, region)
	c.KeyFile = ExpandRegion(c.KeyFile, region)
	if c.TrustDomain == "" {
		c.TrustDomain = DefaultTrustDomain
	}
	if c.EnvelopeWindow == 0 {
		c.EnvelopeWindow = Duration(DefaultEnvelopeWindow)
	}
	if c.ExpiryWarning == 0 {
		c.ExpiryWarning = Duration(DefaultExpiryWarning)
	}
	return c
}

// Validate reports every problem at once, each naming its field under
// path (e.g. "link").
func (c LinkConfig) Validate(path string) error {
	var errs []error
	if c.InsecureDevLink {
		return nil // files are not used; serve decides whether --dev allows it
	}
	if c.TrustDomain != "" {
		if err := checkName("trust domain", c.TrustDomain, 255, true); err != nil {
			errs = append(errs, fmt.Errorf("%s.trust_domain: %w", path, err))
		}
	}
	for _, f := range []struct{ name, val string }{{"ca_file", c.CAFile}, {"cert_file", c.CertFile}, {"key_file", c.KeyFile}} {
		if f.val == "" {
			errs = append(errs, fmt.Errorf("%s.%s: required (create the files with `meridian certs init` and `meridian certs issue`, or set insecure_dev_link: true for development)", path, f.name))
		}
	}
	if c.EnvelopeWindow < 0 {
		errs = append(errs, fmt.Errorf("%s.envelope_window: %v is negative", path, time.Duration(c.EnvelopeWindow)))
	}
	if c.ExpiryWarning < 0 {
		errs = append(errs, fmt.Errorf("%s.expiry_warning: %v is negative", path, time.Duration(c.ExpiryWarning)))
	}
	return errors.Join(errs...)
}

// StoreOptions returns the [StoreOptions] for the node of region; the
// caller adds Logger, Registerer, Clock and PeerRejected.
func (c LinkConfig) StoreOptions(region string) StoreOptions {
	c = c.ForRegion(region)
	return StoreOptions{
		CertFile:      c.CertFile,
		KeyFile:       c.KeyFile,
		CAFile:        c.CAFile,
		TrustDomain:   c.TrustDomain,
		Region:        region,
		ExpiryWarning: time.Duration(c.ExpiryWarning),
	}
}

// ParseLifetime parses a certificate lifetime: a Go duration ("2160h") or
// a whole number of days ("90d").
func ParseLifetime(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err != nil || fmt.Sprint(n) != days || n <= 0 {
			return 0, fmt.Errorf("lifetime %q: want a positive number of days such as 90d, or a Go duration such as 2160h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("lifetime %q: want a positive number of days such as 90d, or a Go duration such as 2160h", s)
	}
	return d, nil
}

// CheckMode refuses insecure_dev_link unless dev is true (serve's --dev).
// It returns nil when the link runs with mTLS and envelopes.
func (c LinkConfig) CheckMode(dev bool) error {
	if c.InsecureDevLink && !dev {
		return ErrInsecureDevLink
	}
	return nil
}
