package pki

import (
	"crypto/x509"
	"errors"
	"net/url"
	"testing"
)

func TestParseIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Identity
		wantErr bool
	}{
		{in: "spiffe://meridian/region/eu-west-1", want: Identity{"meridian", "eu-west-1"}},
		{in: "spiffe://corp.example/region/us-east-1", want: Identity{"corp.example", "us-east-1"}},
		{in: "spiffe://meridian/region/", wantErr: true},
		{in: "spiffe://meridian/region/eu-west-1/x", wantErr: true},
		{in: "spiffe://meridian/node/eu-west-1", wantErr: true},
		{in: "spiffe:///region/eu-west-1", wantErr: true},
		{in: "spiffe://Meridian/region/eu-west-1", wantErr: true},
		{in: "spiffe://meridian:443/region/eu-west-1", wantErr: true},
		{in: "spiffe://user@meridian/region/eu-west-1", wantErr: true},
		{in: "spiffe://meridian/region/eu-west-1?x=1", wantErr: true},
		{in: "spiffe://meridian/region/eu.west", wantErr: true},
		{in: "spiffe://meridian/region/-eu", wantErr: true},
		{in: "https://meridian/region/eu-west-1", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseIdentity(tc.in)
			if tc.wantErr {
				if err == nil || !errors.Is(err, ErrIdentity) {
					t.Fatalf("ParseIdentity(%q) = %v, %v; want an ErrIdentity error", tc.in, got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseIdentity(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			if got.String() != tc.in || got.URI().String() != tc.in {
				t.Errorf("round trip of %q: String %q, URI %q", tc.in, got.String(), got.URI())
			}
		})
	}
}

func TestIdentityFromCertificate(t *testing.T) {
	t.Parallel()
	u := func(s string) *url.URL {
		v, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name    string
		uris    []*url.URL
		want    string
		wantErr bool
	}{
		{name: "one", uris: []*url.URL{u("spiffe://meridian/region/eu-west-1")}, want: "eu-west-1"},
		{name: "with other URI", uris: []*url.URL{u("https://example.com"), u("spiffe://meridian/region/eu-west-1")}, want: "eu-west-1"},
		{name: "none", wantErr: true},
		{name: "two regions", uris: []*url.URL{u("spiffe://meridian/region/eu-west-1"), u("spiffe://meridian/region/us-east-1")}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := IdentityFromCertificate(&x509.Certificate{URIs: tc.uris})
			if (err != nil) != tc.wantErr || id.Region != tc.want {
				t.Fatalf("IdentityFromCertificate(%v) = %v, %v; want region %q, error %v", tc.uris, id, err, tc.want, tc.wantErr)
			}
		})
	}
}

func FuzzParseIdentity(f *testing.F) {
	for _, s := range []string{"spiffe://meridian/region/eu-west-1", "spiffe://a.b/region/x", "spiffe://x/region/", "spiffe://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseIdentity(s)
		if err != nil {
			return
		}
		if id.String() != s {
			t.Fatalf("ParseIdentity(%q) = %v, which prints as %q", s, id, id.String())
		}
		if back, err := ParseIdentity(id.URI().String()); err != nil || back != id {
			t.Fatalf("URI round trip of %q: %v, %v", s, back, err)
		}
	})
}
