package topology

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
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
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &ValidationError{Problems: []*ConfigError{yamlSyntaxError(file, err)}}
	}
	cfg := &Config{File: file, lines: map[string]int{}}
	indexLines(&root, "", cfg.lines)
	if len(root.Content) == 0 {
		return nil, &ValidationError{Problems: []*ConfigError{{File: file, Msg: "the file is empty", Hint: "start from docs/config.example.yaml"}}}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var problems []*ConfigError
	if err := dec.Decode(cfg); err != nil {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, &ValidationError{Problems: decodeProblems(file, err, cfg.lines)}
		}
		// Unknown fields and mistyped values leave the rest of the file
		// decoded: report them together with every other problem, so one
		// run names them all.
		problems = decodeProblems(file, err, cfg.lines)
	}
	cfg.File = file
	if err := cfg.Validate(); err != nil {
		var ve *ValidationError
		if !errors.As(err, &ve) {
			return nil, err
		}
		problems = append(problems, ve.Problems...)
	}
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	return cfg, nil
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

var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type (\S+)$`)
var typeErrRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// decodeProblems turns yaml's decode errors into ConfigErrors, naming the
// fields a mistyped key could have meant.
func decodeProblems(file string, err error, lines map[string]int) []*ConfigError {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return []*ConfigError{{File: file, Msg: err.Error()}}
	}
	var out []*ConfigError
	for _, e := range te.Errors {
		if m := unknownFieldRE.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			out = append(out, &ConfigError{File: file, Line: line, Field: fieldPath(lines, line, m[2]),
				Msg:  fmt.Sprintf("unknown field %q", m[2]),
				Hint: "remove it or use one of: " + strings.Join(knownFields(m[3]), ", ")})
			continue
		}
		if m := typeErrRE.FindStringSubmatch(e); m != nil {
			line, _ := strconv.Atoi(m[1])
			out = append(out, &ConfigError{File: file, Line: line, Msg: m[2], Hint: "check the value's type against docs/configuration.md"})
			continue
		}
		out = append(out, &ConfigError{File: file, Msg: e})
	}
	return out
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

// indexLines records the line of every field path in the document.
func indexLines(n *yaml.Node, path string, lines map[string]int) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			indexLines(c, path, lines)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			lines[p] = k.Line
			indexLines(v, p, lines)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			lines[p] = c.Line
			indexLines(c, p, lines)
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
