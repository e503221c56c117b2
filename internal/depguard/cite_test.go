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
var trackerRef = regexp.MustCompile(`(?i)\bissues? #?[0-9]+\b`)

// TestCitesOnlyTheRepository: no Go file, Markdown page or chart under the
// repository cites an issue tracker entry by number, nor a path outside the
// repository (../shared, /work/...).
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
			if name := d.Name(); path != root && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".yaml", ".yml", ".tpl", ".js", ".ts":
		default:
			return nil
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
			if path == filepath.Join(root, "internal", "depguard", "cite_test.go") {
				break // this file names what it looks for
			}
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
