package sim_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/meridian-gateway/meridian/internal/sim"
)

var update = flag.Bool("update", false, "rewrite the result tables in docs/ from the simulator")

const docsDir = "../../docs"

// docTable is one result table in a doc: a fenced block whose first line is
// the header `meridian sim` prints, "scenario NAME, seed N, K requests".
type docTable struct {
	file       string
	scenario   string
	seed       uint64
	start, end int // byte offsets of the block's content in the file
	text       string
}

var tableHeader = regexp.MustCompile("(?m)^```\\n(scenario ([a-z0-9-]+), seed ([0-9]+), [0-9]+ requests\\n(?s:.*?))```\\n")

func docTables(t *testing.T) []docTable {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	var tables []docTable
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range tableHeader.FindAllSubmatchIndex(b, -1) {
			seed, err := strconv.ParseUint(string(b[m[6]:m[7]]), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			tables = append(tables, docTable{file: f, scenario: string(b[m[4]:m[5]]), seed: seed,
				start: m[2], end: m[3], text: string(b[m[2]:m[3]])})
		}
	}
	return tables
}

// TestDocResultTables: every results table in docs/ is what `meridian sim`
// prints for its scenario and seed today, so the docs cannot go stale.
// The runs are deterministic for a seed and take about two CPU seconds in
// all. Regenerate with
//
//	go test ./internal/sim -run TestDocResultTables -update
func TestDocResultTables(t *testing.T) {
	if raceEnabled {
		t.Skip("the result tables are checked without the race detector (they take 10x longer under it)")
	}
	tables := docTables(t)
	if len(tables) < 5 {
		t.Fatalf("found %d result tables in %s, want at least 5 (the routing.md ones): has the header format changed?", len(tables), docsDir)
	}
	got := make([]string, len(tables))
	for i, tc := range tables {
		t.Run(tc.scenario, func(t *testing.T) {
			path := filepath.Join(scenarioDir, tc.scenario+".yaml")
			sc := load(t, tc.scenario+".yaml")
			if sc.Name != tc.scenario {
				t.Fatalf("%s is named %q, the table says %q", path, sc.Name, tc.scenario)
			}
			// What `meridian sim --scenario FILE --seed N` does: every
			// strategy, the table format.
			rep, err := sim.Compare(t.Context(), sc, sim.Strategies(), tc.seed)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := sim.Write(&buf, rep, sim.Table); err != nil {
				t.Fatal(err)
			}
			got[i] = buf.String()
			if got[i] != tc.text && !*update {
				t.Errorf("%s: the %s table (seed %d) is stale (-doc +simulator):\n%s\nregenerate the docs' tables with: go test ./internal/sim -run TestDocResultTables -update\n(the table is the output of: go run ./cmd/meridian sim --scenario scenarios/%s.yaml --seed %d)",
					filepath.Base(tc.file), tc.scenario, tc.seed, lineDiff(tc.text, got[i]), tc.scenario, tc.seed)
			}
		})
	}
	if !*update || t.Failed() {
		return
	}
	// Rewrite each file's tables from the last to the first, so offsets
	// stay valid.
	byFile := map[string][]int{}
	for i, tc := range tables {
		byFile[tc.file] = append(byFile[tc.file], i)
	}
	for file, idx := range byFile {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for k := len(idx) - 1; k >= 0; k-- {
			tc := tables[idx[k]]
			b = append(b[:tc.start:tc.start], append([]byte(got[idx[k]]), b[tc.end:]...)...)
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(os.Stderr, "updated %s\n", file)
	}
}

// lineDiff shows the lines that differ, "-" from the doc and "+" from the
// simulator (the tables have one line per strategy, so a line-by-line
// comparison reads best).
func lineDiff(doc, sim string) string {
	a, b := strings.Split(doc, "\n"), strings.Split(sim, "\n")
	var out strings.Builder
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Fprintf(&out, "- %s\n+ %s\n", x, y)
		}
	}
	return out.String()
}

// TestDocResultTablesOverload: the targets table of docs/routing.md (between the
// overload-targets markers) is the default strategy against the oracle on
// every shipped scenario with its own seed, as TestOverloadTargets checks.
// Regenerate it with -update, as the result tables.
func TestDocResultTablesOverload(t *testing.T) {
	if raceEnabled {
		t.Skip("the scenarios are run without the race detector")
	}
	file := filepath.Join(docsDir, "routing.md")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- overload-targets -->\n", "<!-- /overload-targets -->\n"
	i, j := bytes.Index(b, []byte(begin)), bytes.Index(b, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("%s has no %q ... %q block", file, strings.TrimSpace(begin), strings.TrimSpace(end))
	}
	files, err := filepath.Glob(filepath.Join(scenarioDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	out.WriteString("| scenario | p99 TTFT (default / oracle) | ratio | throttled % (default / oracle) | failed % (default / oracle) | queued | queue wait p99 | retry served % (default / oracle) |\n")
	out.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, f := range files {
		sc := load(t, filepath.Base(f))
		rep, err := sim.Compare(t.Context(), sc, []string{"locality-first", sim.Oracle}, 0)
		if err != nil {
			t.Fatal(err)
		}
		r := byStrategy(rep)
		d, o := r["locality-first"], r[sim.Oracle]
		ms := func(q int64) string { return strconv.FormatInt(q, 10) + "ms" }
		fmt.Fprintf(&out, "| %s | %s / %s | %.2f | %.2f / %.2f | %.2f / %.2f | %d | %s | %.1f / %.1f |\n",
			sc.Name, ms(d.TTFT.P99.Milliseconds()), ms(o.TTFT.P99.Milliseconds()),
			float64(d.TTFT.P99)/float64(max(o.TTFT.P99, 1)),
			d.ThrottledPct, o.ThrottledPct, d.FailedPct, o.FailedPct, d.Queued, ms(d.QueueWait.P99.Milliseconds()),
			d.RetryServedPct, o.RetryServedPct)
	}
	got := out.String()
	doc := string(b[i+len(begin) : j])
	if got == doc {
		return
	}
	if !*update {
		t.Fatalf("the overload targets table in %s is stale (-doc +simulator):\n%s\nregenerate with: go test ./internal/sim -run TestDocResultTables -update",
			file, lineDiff(doc, got))
	}
	nb := append(append(append([]byte{}, b[:i+len(begin)]...), got...), b[j:]...)
	if err := os.WriteFile(file, nb, 0o644); err != nil {
		t.Fatal(err)
	}
}
