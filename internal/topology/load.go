package topology

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/meridian-gateway/meridian/internal/textdist"
)

// Load reads, parses and validates the topology file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read topology: %w", err)
	}
	return Parse(data, path)
}

// Parse parses and validates a topology file's bytes. file names it in
// errors. On any problem it returns a *ValidationError listing them all.
func Parse(data []byte, file string) (*Config, error) {
	cfg, problems := Check(data, file)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return cfg, nil
}

// LoadChecked reads the topology file at path and returns what Check
// does; the error is only for a file that cannot be read.
func LoadChecked(path string) (*Config, []*ConfigError, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read topology: %w", err)
	}
	cfg, problems := Check(data, path)
	return cfg, problems, nil
}

// Check parses and validates a topology file's bytes and returns every
// problem, in the order of their lines, together with the configuration
// as decoded, problems or not (nil only for a file that is not YAML or is
// empty), so that `meridian config validate` can also check the files it
// names and report everything in one run (MergeProblems). A Config with
// problems must not be served.
//
// Decoding does not stop at a bad value: yaml collects unknown fields and
// mistyped values, Duration and the policy forms record theirs the same way
// (decodeError), and each is reported with its field path, line and a fix.
// A field with a decode problem is not reported again by Validate (which
// sees its zero value).
func Check(data []byte, file string) (*Config, []*ConfigError) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, []*ConfigError{yamlSyntaxError(file, err)}
	}
	cfg := &Config{File: file, lines: map[string]int{}}
	var values []valueAt
	indexLines(&root, "", cfg.lines, &values)
	if len(root.Content) == 0 {
		return nil, []*ConfigError{{File: file, Msg: "the file is empty", Hint: "start from docs/config.example.yaml"}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var problems []*ConfigError
	if err := dec.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, decodeProblems(file, err, cfg.lines, values)
		}
		// Unknown fields and mistyped values leave the rest of the file
		// decoded: report them together with every other problem, so one
		// run names them all.
		problems = decodeProblems(file, err, cfg.lines, values)
	}
	cfg.File = file
	if err := cfg.Validate(); err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			problems = append(problems, &ConfigError{File: file, Msg: err.Error()})
		} else {
			problems = append(problems, dropDecoded(ve.Problems, problems)...)
		}
	}
	sortProblems(problems)
	return cfg, problems
}

// MergeProblems adds more (e.g. node.CheckFiles's, which know no lines) to
// problems: each gets the line of its field when it has none; one about a
// field that already has a problem, or lies inside or around one that has,
// is dropped (the first says what to fix there: a file that cannot be
// loaded is often one named wrongly); and the result is in the order of
// lines.
func (c *Config) MergeProblems(problems, more []*ConfigError) []*ConfigError {
	out := problems
next:
	for _, p := range more {
		if p.Line == 0 && p.Field != "" {
			p.Line = c.lineOf(p.Field)
		}
		for _, q := range problems {
			if p.Field != "" && q.Field != "" && (p.Field == q.Field || within(p.Field, q.Field) || within(q.Field, p.Field)) {
				continue next
			}
		}
		out = append(out, p)
	}
	sortProblems(out)
	return out
}

// dropDecoded leaves out of validation problems those about a value that
// already has a decode problem (Validate sees its zero value), or about a
// field inside one.
func dropDecoded(validation, decoded []*ConfigError) []*ConfigError {
	var out []*ConfigError
next:
	for _, p := range validation {
		for _, q := range decoded {
			if q.Field != "" && !strings.HasPrefix(q.Msg, "unknown field") && (p.Field == q.Field || within(p.Field, q.Field)) {
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// within reports whether field path a lies inside b ("regions[0].tls.cert_file"
// inside "regions[0].tls" or "regions[0]").
func within(a, b string) bool {
	return strings.HasPrefix(a, b) && len(a) > len(b) && (a[len(b)] == '.' || a[len(b)] == '[')
}

// sortProblems orders problems by line, keeping the order of those on one
// line; problems without a line come last.
func sortProblems(ps []*ConfigError) {
	key := func(p *ConfigError) int {
		if p.Line == 0 {
			return math.MaxInt
		}
		return p.Line
	}
	slices.SortStableFunc(ps, func(a, b *ConfigError) int { return cmp.Compare(key(a), key(b)) })
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

func yamlSyntaxError(file string, err error) *ConfigError {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	return &ConfigError{File: file, Line: line, Msg: "invalid YAML: " + msg, Hint: "check indentation and quoting on that line"}
}

var (
	unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
	// ownErrRE matches decodeError's strings.
	ownErrRE = regexp.MustCompile(`(?s)^line (\d+): column (\d+): (.*)$`)
	// yamlTypeRE matches yaml's own: "line 53: cannot unmarshal !!str `5GB` into int64"
	// (a value longer than 10 bytes is cut to 7 and "...").
	yamlTypeRE = regexp.MustCompile("^line (\\d+): cannot unmarshal (!!\\w+)(?: `(.*)`)? into (.+)$")
	typeErrRE  = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// decodeProblems turns yaml's decode errors into ConfigErrors with the
// field path of the value (found by its line, and column or text, in
// values), naming the fields a mistyped key could have meant and the form
// a mistyped value should take.
func decodeProblems(file string, err error, lines map[string]int, values []valueAt) []*ConfigError {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []*ConfigError{{File: file, Msg: err.Error(), Hint: "check the value's type against docs/configuration.md"}}
	}
	var out []*ConfigError
	for _, e := range te.Errors {
		if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			known := knownFields(m[3])
			hint := "remove it or use one of: " + strings.Join(known, ", ")
			if near := nearest(m[2], known); near != "" {
				hint = fmt.Sprintf("did you mean %q? otherwise remove it (fields: %s)", near, strings.Join(known, ", "))
			}
			out = append(out, &ConfigError{File: file, Line: line, Field: fieldPath(lines, line, m[2]),
				Msg: fmt.Sprintf("unknown field %q", m[2]), Hint: hint})
			continue
		}
		if m := ownErrRE.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			col, _ := strconv.Atoi(m[2])
			msg, hint, _ := strings.Cut(m[3], hintMark)
			field := ""
			for _, v := range values {
				if v.n.Line == line && v.n.Column == col {
					field = v.path
					break
				}
			}
			out = append(out, &ConfigError{File: file, Line: line, Field: field, Msg: msg, Hint: hint})
			continue
		}
		if m := yamlTypeRE.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			v, ok := valueOn(values, line, m[2], m[3])
			value, field := m[3], ""
			if ok {
				value, field = v.n.Value, v.path
			}
			msg, hint := typeProblem(field, m[2], value, m[4])
			out = append(out, &ConfigError{File: file, Line: line, Field: field, Msg: msg, Hint: hint})
			continue
		}
		if m := typeErrRE.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			out = append(out, &ConfigError{File: file, Line: line, Msg: m[2], Hint: "check the value's type against docs/configuration.md"})
			continue
		}
		out = append(out, &ConfigError{File: file, Msg: e, Hint: "check the value's type against docs/configuration.md"})
	}
	return out
}

// valueOn finds the value yaml reported as mistyped: on line, with tag,
// and with the text yaml quoted (cut to its first 7 bytes and "...").
func valueOn(values []valueAt, line int, tag, text string) (valueAt, bool) {
	for _, v := range values {
		if v.key || v.n.Line != line || v.n.ShortTag() != tag {
			continue
		}
		if v.n.Kind == yaml.ScalarNode {
			if cut, ok := strings.CutSuffix(text, "..."); !(v.n.Value == text || ok && len(v.n.Value) > 10 && strings.HasPrefix(v.n.Value, cut)) {
				continue
			}
		}
		return v, true
	}
	return valueAt{}, false
}

var byteSizeRE = regexp.MustCompile(`(?i)^\s*(\d+(?:\.\d+)?)\s*([kmgtp])i?b?\s*$`)

// numberRE matches a number written with a decimal multiplier ("1.2k").
var numberRE = regexp.MustCompile(`(?i)^\s*(\d+(?:\.\d+)?)\s*([km])\s*$`)

// typeProblem says what is wrong with a value of YAML tag tag (and text
// value, for scalars) at field where a Go value of type goType belongs,
// and how to write it.
func typeProblem(field, tag, value, goType string) (msg, hint string) {
	want, hint := "a string", "write it as a string (quote it)"
	switch t := strings.TrimLeft(goType, "*"); {
	case strings.HasPrefix(t, "[]"):
		want, hint = "a list", `write a list: [a, b], or one "- item" per line`
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "topology."):
		want, hint = "a mapping", "write key: value pairs, as docs/configuration.md shows for this field"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		want, hint = "a whole number", "write a whole number, without quotes or a unit"
		if m := numberRE.FindStringSubmatch(value); m != nil && !strings.HasSuffix(field, "_bytes") {
			if n, err := strconv.ParseFloat(m[1], 64); err == nil {
				mult := map[string]float64{"k": 1e3, "m": 1e6}[strings.ToLower(m[2])]
				hint = fmt.Sprintf("write it in full, without quotes or a unit: %d", int64(n*mult))
			}
		}
		if m := byteSizeRE.FindStringSubmatch(value); m != nil && strings.HasSuffix(field, "_bytes") {
			if n, err := strconv.ParseFloat(m[1], 64); err == nil {
				shift := 10 * (1 + strings.Index("kmgtp", strings.ToLower(m[2])))
				hint = fmt.Sprintf("write the size in bytes, without a unit: %s %siB is %d", m[1], strings.ToUpper(m[2]), int64(n*float64(int64(1)<<shift)))
			}
		}
	case strings.HasPrefix(t, "float"):
		want, hint = "a number", "write a number, e.g. 0.5, without quotes"
	case t == "bool":
		want, hint = "true or false", "write true or false, without quotes"
	}
	switch tag {
	case "!!map":
		return "a mapping where " + want + " belongs", hint
	case "!!seq":
		return "a list where " + want + " belongs", hint
	}
	if len(value) > 64 {
		value = value[:61] + "..."
	}
	return fmt.Sprintf("%q is not %s", value, want), hint
}

// nearest returns the candidate closest to word by edit distance, if it
// is close enough to be a typo of it (at most a third of word's length,
// and at least 1), or "".
func nearest(word string, candidates []string) string {
	best, bestD := "", max(1, len(word)/3)+1
	for _, c := range candidates {
		if d := textdist.Levenshtein(strings.ToLower(word), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// fieldPath returns the full path of the key named field on line (e.g.
// "regions[0].bogus" for "bogus"), or field when the line index has none.
func fieldPath(lines map[string]int, line int, field string) string {
	best := ""
	for p, l := range lines {
		if l != line || (p != field && !strings.HasSuffix(p, "."+field)) {
			continue
		}
		if best == "" || len(p) < len(best) || (len(p) == len(best) && p < best) {
			best = p
		}
	}
	if best == "" {
		return field
	}
	return best
}

// knownFields lists the YAML keys of the named topology struct type
// ("topology.Region").
func knownFields(typeName string) []string {
	name := strings.TrimPrefix(typeName, "topology.")
	t, ok := configTypes()[name]
	if !ok {
		return nil
	}
	var out []string
	for i := range t.NumField() {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			out = append(out, tag)
		}
	}
	sort.Strings(out)
	return out
}

// configTypes maps the names of the struct types reachable from Config.
func configTypes() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || out[t.Name()] != nil {
			return
		}
		out[t.Name()] = t
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				walk(t.Field(i).Type)
			}
		}
	}
	walk(reflect.TypeOf(Config{}))
	return out
}

// valueAt is a node of the document with its field path.
type valueAt struct {
	path string
	n    *yaml.Node
	key  bool // n is the key of the entry at path, not its value
}

// indexLines records the line of every field path in the document, and
// in values every value node with its path.
func indexLines(n *yaml.Node, path string, lines map[string]int, values *[]valueAt) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, lines, values)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			lines[p] = k.Line
			*values = append(*values, valueAt{p, k, true}, valueAt{p, v, false})
			indexLines(v, p, lines, values)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = c.Line
			*values = append(*values, valueAt{p, c, false})
			indexLines(c, p, lines, values)
		}
	}
}

// lineOf returns the line of a field path, or of its nearest recorded
// ancestor.
func (c *Config) lineOf(path string) int {
	for path != "" {
		if l, ok := c.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}
