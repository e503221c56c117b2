package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// tamperBase is a log of 24 events in several files with three digests,
// built once and copied for each tamper case.
type tamperBase struct {
	dir     string
	pub     ed25519.PublicKey
	logs    []string
	digests []string
}

// buildBase writes the base log for the tamper cases.
func buildBase(t *testing.T) tamperBase {
	t.Helper()
	w := openTest(t, t.TempDir(), newFakeClock(), func(c *Config) { c.RotateBytes = 6000 })
	for i := range 24 {
		if err := w.Append(t.Context(), testEvent(i)); err != nil {
			t.Fatal(err)
		}
		if i == 7 || i == 15 {
			if err := w.Digest(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	logs, digests, err := listDir(w.Dir())
	if err != nil {
		t.Fatal(err)
	}
	b := tamperBase{dir: w.Dir(), pub: w.PublicKey()}
	for _, l := range logs {
		b.logs = append(b.logs, l.name)
	}
	for _, d := range digests {
		b.digests = append(b.digests, d.name)
	}
	if len(b.logs) < 3 || len(b.digests) != 3 {
		t.Fatalf("base log has %d files and %d digests, want at least 3 and 3", len(b.logs), len(b.digests))
	}
	return b
}

// copyDir copies the files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(string(b), "\n")[:strings.Count(string(b), "\n")]
}

func writeLines(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// reseal re-encodes a line's event after edit, linked to prevHash, with a
// correct hash: what a forger without the key can do.
func reseal(t *testing.T, line, prevHash string, edit func(*Event)) (string, string) {
	t.Helper()
	var e Event
	if err := json.Unmarshal([]byte(strings.TrimSuffix(line, "\n")), &e); err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(&e)
	}
	body, err := marshalEvent(&e)
	if err != nil {
		t.Fatal(err)
	}
	out, h := seal(nil, body, prevHash)
	return string(out), h
}

func hashOf(t *testing.T, line string) string {
	t.Helper()
	e, err := ParseLine([]byte(strings.TrimSuffix(line, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return e.Hash
}

func TestVerifyTamper(t *testing.T) {
	t.Parallel()
	b := buildBase(t)
	first, mid, last := b.logs[0], b.logs[1], b.logs[len(b.logs)-1]
	path := func(dir, name string) string { return filepath.Join(dir, name) }

	tests := []struct {
		name     string
		tamper   func(t *testing.T, dir string)
		kind     Finding // 0: intact
		file     string
		line     int64 // -1: any
		warnings string
	}{
		{name: "untouched", tamper: func(*testing.T, string) {}},
		{
			name: "edited byte", kind: EditedEvent, file: mid, line: 4,
			tamper: func(t *testing.T, dir string) {
				ls := readLines(t, path(dir, mid))
				ls[3] = strings.Replace(ls[3], `"curl/8.5.0"`, `"curl/8.5.1"`, 1)
				writeLines(t, path(dir, mid), ls)
			},
		},
		{
			name: "edited byte breaks syntax", kind: MalformedEvent, file: first, line: 2,
			tamper: func(t *testing.T, dir string) {
				ls := readLines(t, path(dir, first))
				ls[1] = strings.Replace(ls[1], `"eventName":`, `"eventName";`, 1)
				writeLines(t, path(dir, first), ls)
			},
		},
		{
			name: "deleted event", kind: DeletedEvent, file: first, line: 5,
			tamper: func(t *testing.T, dir string) {
				ls := readLines(t, path(dir, first))
				writeLines(t, path(dir, first), append(ls[:4:4], ls[5:]...))
			},
		},
		{
			name: "reordered events", kind: ReorderedEvents, file: mid, line: 3,
			tamper: func(t *testing.T, dir string) {
				ls := readLines(t, path(dir, mid))
				ls[2], ls[3] = ls[3], ls[2]
				writeLines(t, path(dir, mid), ls)
			},
		},
		{
			name: "inserted forged event", kind: InsertedEvent, file: first, line: 4,
			tamper: func(t *testing.T, dir string) {
				ls := readLines(t, path(dir, first))
				forged, _ := reseal(t, ls[2], hashOf(t, ls[2]), func(e *Event) { e.EventID = "req-forged"; e.InferenceRegion = "us-east-1" })
				writeLines(t, path(dir, first), append(append(ls[:3:3], forged), ls[3:]...))
			},
		},
		{
			name: "inserted copy of an event", kind: InsertedEvent, file: mid, line: 4,
			tamper: func(t *testing.T, dir string) {
				ls := readLines(t, path(dir, mid))
				writeLines(t, path(dir, mid), append(append(ls[:3:3], ls[0]), ls[3:]...))
			},
		},
		{
			name: "deleted middle file", kind: DeletedFile, file: mid, line: 0,
			tamper: func(t *testing.T, dir string) { os.Remove(path(dir, mid)) },
		},
		{
			name: "deleted newest file", kind: DeletedFile, file: last, line: 0,
			tamper: func(t *testing.T, dir string) { os.Remove(path(dir, last)) },
		},
		{
			name: "truncated newest file", kind: TruncatedFile, file: last, line: -1,
			tamper: func(t *testing.T, dir string) {
				ls := readLines(t, path(dir, last))
				writeLines(t, path(dir, last), ls[:len(ls)-2])
			},
		},
		{
			name: "truncated first file", kind: TruncatedFile, file: first, line: -1,
			tamper: func(t *testing.T, dir string) {
				ls := readLines(t, path(dir, first))
				writeLines(t, path(dir, first), ls[:len(ls)-1])
			},
		},
		{
			name: "truncated mid-line is not a torn tail", kind: TruncatedFile, file: last, line: -1,
			tamper: func(t *testing.T, dir string) {
				fi, _ := os.Stat(path(dir, last))
				os.Truncate(path(dir, last), fi.Size()-100)
			},
		},
		{
			name: "chain rewritten after an edit", kind: EditedEvent, file: mid, line: -1,
			tamper: func(t *testing.T, dir string) {
				prev := ""
				for fi, name := range b.logs {
					ls := readLines(t, path(dir, name))
					for i := range ls {
						switch {
						case name == mid && i == 1:
							ls[i], prev = reseal(t, ls[i], hashOf(t, ls[i-1]), func(e *Event) { e.InferenceRegion = "us-east-1" })
						case prev != "":
							ls[i], prev = reseal(t, ls[i], prev, nil)
						}
					}
					_ = fi
					writeLines(t, path(dir, name), ls)
				}
			},
		},
		{
			name: "forged digest byte", kind: ForgedDigest, file: b.digests[1], line: 0,
			tamper: func(t *testing.T, dir string) {
				p := path(dir, b.digests[1])
				d, _ := os.ReadFile(p)
				os.WriteFile(p, []byte(strings.Replace(string(d), `"lastEventSeq":16`, `"lastEventSeq":15`, 1)), 0o644)
			},
		},
		{
			name: "digest signed by another key", kind: ForgedDigest, file: b.digests[2], line: 0,
			tamper: func(t *testing.T, dir string) {
				p := path(dir, b.digests[2])
				raw, _ := os.ReadFile(p)
				d, _, err := parseDigest(raw, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, other, _ := ed25519.GenerateKey(rand.Reader)
				out, err := signDigest(d, other)
				if err != nil {
					t.Fatal(err)
				}
				os.WriteFile(p, out, 0o644)
			},
		},
		{
			name: "missing middle digest", kind: MissingDigest, file: b.digests[2], line: 0,
			tamper: func(t *testing.T, dir string) { os.Remove(path(dir, b.digests[1])) },
		},
		{
			name: "missing first digest", kind: MissingDigest, file: b.digests[1], line: 0,
			tamper: func(t *testing.T, dir string) { os.Remove(path(dir, b.digests[0])) },
		},
		{
			name: "torn tail after a crash", warnings: "torn tail@" + strconv.Itoa(len(readLines(t, filepath.Join(b.dir, last)))+1),
			tamper: func(t *testing.T, dir string) {
				f, _ := os.OpenFile(path(dir, last), os.O_APPEND|os.O_WRONLY, 0)
				f.WriteString(`{"eventVersion":"1.0","eventId":"req-000`)
				f.Close()
			},
		},
		{
			name: "newest digest not written yet", warnings: "not yet covered by a digest@" + strconv.Itoa(17-len(readLines(t, filepath.Join(b.dir, first)))-len(readLines(t, filepath.Join(b.dir, mid)))),
			tamper: func(t *testing.T, dir string) { os.Remove(path(dir, b.digests[2])) },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := copyDir(t, b.dir)
			tc.tamper(t, dir)
			rep, err := Verify(dir, b.pub)
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("Verify = %v, want intact", err)
				}
				if got := kinds(rep.Warnings); got != tc.warnings {
					t.Errorf("warnings = %q, want %q", got, tc.warnings)
				}
				return
			}
			t.Logf("Verify = %v", err)
			var te *TamperError
			if !errors.As(err, &te) {
				t.Fatalf("Verify = %v, want a %s TamperError", err, tc.kind)
			}
			if te.Kind != tc.kind || te.File != tc.file || (tc.line >= 0 && te.Line != tc.line) {
				t.Errorf("Verify = %v\n got kind %s at %s:%d, want %s at %s:%d", err, te.Kind, te.File, te.Line, tc.kind, tc.file, tc.line)
			}
			if !te.Kind.Tampering() {
				t.Errorf("%s.Tampering() = false", te.Kind)
			}
		})
	}
}
