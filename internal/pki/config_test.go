package pki

import (
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestLinkConfigYAML(t *testing.T) {
	t.Parallel()
	const doc = `
trust_domain: corp.example
ca_file: /etc/meridian/link/ca.crt
cert_file: /etc/meridian/link/{region}.crt
key_file: /etc/meridian/link/{region}.key
envelope_window: 45s
expiry_warning: 720h
`
	var c LinkConfig
	if err := yaml.Unmarshal([]byte(doc), &c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate("link"); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	o := c.StoreOptions("eu-west-1")
	if o.CertFile != "/etc/meridian/link/eu-west-1.crt" || o.KeyFile != "/etc/meridian/link/eu-west-1.key" || o.Region != "eu-west-1" {
		t.Errorf("StoreOptions = %+v", o)
	}
	if o.ExpiryWarning != 720*time.Hour || time.Duration(c.EnvelopeWindow) != 45*time.Second || o.TrustDomain != "corp.example" {
		t.Errorf("durations/trust domain: %+v, window %v", o, c.EnvelopeWindow)
	}
	d := LinkConfig{}.ForRegion("x")
	if d.TrustDomain != "meridian" || time.Duration(d.EnvelopeWindow) != 30*time.Second || time.Duration(d.ExpiryWarning) != 336*time.Hour {
		t.Errorf("defaults = %+v", d)
	}

	var bad LinkConfig
	err := yaml.Unmarshal([]byte("envelope_window: soon\n"), &bad)
	if err == nil || !strings.Contains(err.Error(), "Go duration") {
		t.Errorf("bad duration: %v", err)
	}
	err = LinkConfig{TrustDomain: "Bad_Domain", EnvelopeWindow: -1}.Validate("link")
	for _, want := range []string{"link.trust_domain", "link.ca_file", "link.cert_file", "link.key_file", "link.envelope_window"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %v lacks %q", err, want)
		}
	}
	if err := (LinkConfig{InsecureDevLink: true}).Validate("link"); err != nil {
		t.Errorf("insecure dev link needs no files, got %v", err)
	}
}

func TestParseLifetime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"90d", 90 * 24 * time.Hour}, {"2160h", 2160 * time.Hour}, {"1d", 24 * time.Hour},
		{"0d", 0}, {"-1d", 0}, {"1.5d", 0}, {"d", 0}, {"3y", 0}, {"", 0}, {"-5h", 0}, {"+3d", 0},
	}
	for _, tc := range tests {
		got, err := ParseLifetime(tc.in)
		if (err != nil) != (tc.want == 0) || got != tc.want {
			t.Errorf("ParseLifetime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
