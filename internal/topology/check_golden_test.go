package topology

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the want.txt files of testdata/<case>")

// TestCheckGolden parses each testdata/<case>/topology.yaml and compares
// the problems, one a line as `meridian config validate` prints them, with
// want.txt next to it (-update rewrites it), then the notes (Config.Notes).
// Every problem names its field path and line and says how to fix it; every
// note its field path and line.
func TestCheckGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "topology.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, file := range dirs {
		dir := filepath.Dir(file)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, problems, err := LoadChecked(file)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, p := range problems {
				b.WriteString(p.Error() + "\n")
				if p.Field == "" || p.Line == 0 || p.Hint == "" || p.Severity != SeverityError {
					t.Errorf("problem %q lacks its field, line or fix, or is not an error", p.Error())
				}
			}
			if cfg != nil {
				for _, n := range cfg.Notes() {
					b.WriteString(n.Error() + "\n")
					if n.Field == "" || n.Line == 0 || n.Severity != SeverityNote {
						t.Errorf("note %q lacks its field or line, or is not a note", n.Error())
					}
				}
			}
			got := b.String()
			golden := filepath.Join(dir, "want.txt")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("problems of %s (-want +got):\n%s", file, diff)
			}
		})
	}
}

// TestMergeProblems: problems found outside the topology (the files it
// names) get the line of their field and join the others in line order;
// one about a field that already has a problem, or inside or around it,
// is left out.
func TestMergeProblems(t *testing.T) {
	const file = `account: "111122223333"
geographies: {eu: {name: EU}}
regions:
  - id: eu-west-1
    geography: europe
    location: {lat: 53, lon: -6}
    listen: "127.0.0.1:1"
    link: "127.0.0.1:2"
    tls: {cert_file: a.crt}
  - id: eu-central-1
    geography: eu
    location: {lat: 50, lon: 8}
    listen: "127.0.0.1:3"
    link: "127.0.0.1:4"
    tls: {cert_file: b.crt, key_file: b.key}
models: [{id: demo.chat-small}]
deployments:
  - {model: demo.chat-small, region: eu-west-1, backend: {type: mock}}
link: {insecure_dev_link: true}
`
	cfg, problems := Check([]byte(file), "t.yaml")
	if cfg == nil {
		t.Fatal("Check returned no config")
	}
	files := []*ConfigError{
		{File: "t.yaml", Field: "regions[0].tls", Msg: "cannot be loaded", Hint: "fix"},
		{File: "t.yaml", Field: "regions[1].tls", Msg: "cannot be loaded", Hint: "fix"},
	}
	var got []string
	for _, p := range cfg.MergeProblems(problems, files) {
		got = append(got, p.Error())
	}
	want := []string{
		`t.yaml:5: regions[0].geography: "europe" is not a defined geography (fix: use one of the defined geographies (eu) or define it under geographies)`,
		"t.yaml:9: regions[0].tls: client TLS needs a certificate and a key (fix: set both cert_file and key_file, or remove tls)",
		"t.yaml:15: regions[1].tls: cannot be loaded (fix: fix)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged problems (-want +got):\n%s", diff)
	}
}
