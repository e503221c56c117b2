package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateLoadsTheLinkFiles: `config validate` loads the link material
// of every region as its node would. Missing files make the topology
// invalid (naming the region and the fix), --skip-files checks the
// topology alone, and once `meridian certs` has written the files the same
// topology is valid.
func TestValidateLoadsTheLinkFiles(t *testing.T) {
	dir := t.TempDir()
	topo := filepath.Join(dir, "topology.yaml")
	link := filepath.Join(dir, "link")
	body := `account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - {id: eu-west-1, geography: eu, location: {lat: 53, lon: -6}, listen: "127.0.0.1:1", link: "127.0.0.1:2"}
  - {id: eu-central-1, geography: eu, location: {lat: 50, lon: 8}, listen: "127.0.0.1:3", link: "127.0.0.1:4"}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
link: {ca_file: "` + link + `/ca.crt", cert_file: "` + link + `/{region}.crt", key_file: "` + link + `/{region}.key"}
`
	if err := os.WriteFile(topo, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}

	_, stderr, err := runCLI(t, "config", "validate", topo)
	if err == nil || !strings.Contains(stderr, "link: region eu-west-1: the link material cannot be loaded") ||
		!strings.Contains(stderr, "meridian certs issue --dir DIR --region eu-central-1") || !strings.Contains(stderr, "2 problem(s)") {
		t.Errorf("validate without link files = %v\n%s\nwant both regions' link material named as missing", err, stderr)
	}
	if out, stderr, err := runCLI(t, "config", "validate", "--skip-files", topo); err != nil || !strings.Contains(out, "is valid") {
		t.Errorf("validate --skip-files = %v\n%s%s\nwant valid", err, out, stderr)
	}

	if _, stderr, err := runCLI(t, "certs", "init", "--dir", link); err != nil {
		t.Fatalf("certs init: %v\n%s", err, stderr)
	}
	// Only one region's certificate: the other is still named.
	if _, stderr, err := runCLI(t, "certs", "issue", "--dir", link, "--region", "eu-west-1"); err != nil {
		t.Fatalf("certs issue: %v\n%s", err, stderr)
	}
	_, stderr, err = runCLI(t, "config", "validate", topo)
	if err == nil || strings.Contains(stderr, "region eu-west-1") || !strings.Contains(stderr, "region eu-central-1") {
		t.Errorf("validate with eu-west-1's files only = %v\n%s\nwant only eu-central-1 named", err, stderr)
	}
	if _, stderr, err := runCLI(t, "certs", "issue", "--dir", link, "--region", "eu-central-1"); err != nil {
		t.Fatalf("certs issue: %v\n%s", err, stderr)
	}
	if out, stderr, err := runCLI(t, "config", "validate", topo); err != nil || !strings.Contains(out, "is valid") {
		t.Errorf("validate with every region's files = %v\n%s%s\nwant valid", err, out, stderr)
	}
}
