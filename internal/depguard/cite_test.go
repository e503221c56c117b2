package depguard

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// trackerRef is a reference to an entry of an issue tracker ("issue 7",
// "issue #12"): the repository explains itself with its own files, which
// a reader has, and not with tracker entries, which a reader may not.
var trackerRef = regexp.MustCompile(`\b[Ii]ssue #?[0-9]+\b|\b[Ii]ssues #[0-9]+\b`)

// TestCitesOnlyTheRepository: no source file, page, chart, script or CI
// step under the repository cites an issue tracker entry by number, nor a
// path outside the repository (../shared, /work/...). Tracker references
// of upstream projects (owner/repo#123) are fine: a reader can follow
// them.
func TestCitesOnlyTheRepository(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	outside := []string{"../shared/", "/work/"}
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path == filepath.Join(root, ".ci") {
				return nil // the CI script speaks to readers too
			}
			switch {
			case path == root:
			case name == "testdata", name == "node_modules", name == "vendor", name == "dist",
				strings.HasPrefix(name, "."), strings.HasPrefix(name, "_"):
				return filepath.SkipDir
			}
			return nil
		}
		if path == filepath.Join(root, "internal", "depguard", "cite_test.go") {
			return nil // this file names what it looks for
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".yaml", ".yml", ".tpl", ".tmpl", ".txt", ".js", ".mjs", ".sh", ".json":
		default:
			if name := d.Name(); name != "Dockerfile" && name != "run" {
				return nil
			}
		}
		if strings.HasSuffix(path, "package-lock.json") {
			return nil // third parties' metadata
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if m := trackerRef.FindString(line); m != "" {
				found = append(found, path+":"+strconv.Itoa(n)+": cites a tracker entry ("+m+")")
			}
			for _, o := range outside {
				if strings.Contains(line, o) {
					found = append(found, path+":"+strconv.Itoa(n)+": cites a path outside the repository ("+o+")")
				}
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range found {
		t.Error(f)
	}
}
