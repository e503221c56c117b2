package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Filter selects events for [Query]. Zero fields match everything.
//
// Region fields take a comma-separated list of patterns ([path.Match]
// syntax, e.g. "eu-*"); a pattern starting with '!' excludes. An event
// matches when it matches at least one including pattern (or there is none)
// and no excluding pattern. An empty region (nothing ran) matches only the
// pattern "none", so "!eu-*" lists requests served outside eu-*, not the
// ones that were rejected.
type Filter struct {
	// Since and Until bound eventTime: Since <= eventTime < Until.
	Since, Until time.Time
	// Principal matches userIdentity.principalId, apiKeyId or accessKeyId
	// (a pattern).
	Principal       string
	SourceRegion    string
	InferenceRegion string
	// Profile matches inferenceProfileArn, or the profile id after its last
	// '/' (a pattern), or requestParameters.modelId and its id likewise, so
	// that refused requests are found by the profile they asked for.
	Profile string
	// Status is a status code ("429"), a class ("4xx"), or a comma-separated
	// list of them; '!' excludes.
	Status string
	// Side, when set, keeps only events of that side.
	Side Side
	// EventID matches eventId (a pattern): with Side unset it finds both
	// sides of a forwarded request.
	EventID string
	// Metadata keeps events whose requestMetadata has every key given with
	// a value matching its pattern (`audit query --metadata team=claims`).
	Metadata map[string]string
}

// ParseMetadataFilter parses one --metadata argument, KEY=VALUE (VALUE a
// pattern), into m.
func ParseMetadataFilter(m map[string]string, arg string) error {
	k, v, ok := strings.Cut(arg, "=")
	if !ok || k == "" {
		return fmt.Errorf("--metadata: %q is not KEY=VALUE", cutArg(arg))
	}
	if _, err := path.Match(v, ""); err != nil {
		return fmt.Errorf("--metadata: %q is not a pattern: %w", cutArg(v), err)
	}
	m[k] = v
	return nil
}

func cutArg(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Validate reports malformed patterns, naming the flag.
func (f Filter) Validate() error {
	var errs []error
	for _, p := range []struct{ name, v string }{
		{"principal", f.Principal}, {"source-region", f.SourceRegion},
		{"inference-region", f.InferenceRegion}, {"profile", f.Profile}, {"event-id", f.EventID},
	} {
		for _, pat := range splitPatterns(p.v) {
			if _, err := path.Match(strings.TrimPrefix(pat, "!"), ""); err != nil {
				errs = append(errs, fmt.Errorf("--%s: %q is not a pattern: %w", p.name, pat, err))
			}
		}
	}
	for _, pat := range splitPatterns(f.Status) {
		s := strings.TrimPrefix(pat, "!")
		if _, err := strconv.Atoi(s); err != nil && !(len(s) == 3 && s[0] >= '1' && s[0] <= '5' && s[1:] == "xx") {
			errs = append(errs, fmt.Errorf("--status: %q is neither a status code nor a class like 4xx", pat))
		}
	}
	switch f.Side {
	case "", SideSource, SideDestination:
	default:
		errs = append(errs, fmt.Errorf("--side: %q is not a side (use source or destination)", f.Side))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		errs = append(errs, fmt.Errorf("--since %s is not before --until %s", f.Since.Format(time.RFC3339), f.Until.Format(time.RFC3339)))
	}
	return errors.Join(errs...)
}

// Match reports whether e passes the filter. A gap marker passes every
// filter whose time window overlaps its outage, whatever the other criteria:
// the answer may be incomplete there. Only EventID, which asks for one
// request, leaves it out.
func (f Filter) Match(e *Event) bool {
	if g := e.Gap; g != nil {
		if f.EventID != "" && !matchAny(f.EventID, e.EventID) {
			return false
		}
		return (f.Until.IsZero() || g.Since.Before(f.Until)) && (f.Since.IsZero() || !g.Until.Before(f.Since))
	}
	t := e.EventTime.Time
	if !f.Since.IsZero() && t.Before(f.Since) || !f.Until.IsZero() && !t.Before(f.Until) {
		return false
	}
	if f.Side != "" && e.Side != f.Side {
		return false
	}
	if f.EventID != "" && !matchAny(f.EventID, e.EventID) {
		return false
	}
	u := e.UserIdentity
	if f.Principal != "" && !matchAny(f.Principal, u.PrincipalID, u.APIKeyID, u.AccessKeyID) {
		return false
	}
	if !matchRegion(f.SourceRegion, e.SourceRegion) || !matchRegion(f.InferenceRegion, e.InferenceRegion) {
		return false
	}
	for k, pat := range f.Metadata {
		v, ok := e.RequestMetadata[k]
		if m, _ := path.Match(pat, v); !ok || !m {
			return false
		}
	}
	if f.Profile != "" {
		id := e.InferenceProfileARN[strings.LastIndexByte(e.InferenceProfileARN, '/')+1:]
		// A refused request resolved nothing: match what the caller asked for.
		var asked, askedID string
		if e.RequestParameters != nil {
			asked = e.RequestParameters.ModelID
			askedID = asked[strings.LastIndexByte(asked, '/')+1:]
		}
		if !matchAny(f.Profile, e.InferenceProfileARN, id, asked, askedID) {
			return false
		}
	}
	return matchPatterns(f.Status, func(p string) bool {
		if strings.HasSuffix(p, "xx") {
			return len(p) == 3 && e.StatusCode/100 == int(p[0]-'0')
		}
		n, _ := strconv.Atoi(p)
		return n == e.StatusCode
	})
}

func splitPatterns(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// matchPatterns applies include/exclude patterns with match.
func matchPatterns(list string, match func(pattern string) bool) bool {
	included, hasInclude := false, false
	for _, p := range splitPatterns(list) {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if match(neg) {
				return false
			}
			continue
		}
		hasInclude = true
		if match(p) {
			included = true
		}
	}
	return included || !hasInclude
}

func matchRegion(list, region string) bool {
	if region == "" && len(splitPatterns(list)) > 0 {
		// Nothing ran: only an explicit "none" selects it.
		for _, p := range splitPatterns(list) {
			if p == "none" {
				return true
			}
		}
		return false
	}
	return matchPatterns(list, func(p string) bool {
		ok, _ := path.Match(p, region)
		return ok
	})
}

func matchAny(list string, values ...string) bool {
	return matchPatterns(list, func(p string) bool {
		for _, v := range values {
			if v == "" {
				continue
			}
			if ok, _ := path.Match(p, v); ok {
				return true
			}
		}
		return false
	})
}

// ParseTime parses a --since/--until value: RFC 3339, or a UTC date or
// month ("2026-11-25", "2026-11", "2026-11-25T10:00").
func ParseTime(s string) (time.Time, error) {
	if t, ok := parseAbsolute(s); ok {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (use RFC 3339, 2006-01-02 or 2006-01)", s)
}

// ParseTimeAt parses a --since/--until value as [ParseTime] does, or as a
// duration before now: "1h" is an hour before now, also "90m", "1h30m",
// "45s" and whole days ("2d"), as an incident's "the last hour" is asked.
func ParseTimeAt(s string, now time.Time) (time.Time, error) {
	if t, ok := parseAbsolute(s); ok {
		return t, nil
	}
	if d, ok := parseAgo(s); ok {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is not a time (use RFC 3339, 2006-01-02 or 2006-01, or a duration before now such as 1h, 30m or 2d)", s)
}

func parseAbsolute(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02", "2006-01"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// maxAgo bounds a relative time (about 100 years), far beyond any trail.
const maxAgo = 100 * 365 * 24 * time.Hour

// parseAgo parses a positive duration: Go's syntax ("1h30m"), or a whole
// number of days ("2d").
func parseAgo(s string) (time.Duration, bool) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, false
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, false
		}
	}
	if d <= 0 || d > maxAgo {
		return 0, false
	}
	return d, true
}

// Query calls fn, in log order, for every event in dir that matches f. dir
// is a recording region's directory or the audit root holding one directory
// per region (walked in name order). Query does not verify the chain (run
// [Verify] for that); a line that does not decode is reported as an error
// naming its file and line, and torn tails are skipped. If fn returns an
// error, Query stops and returns it.
func Query(dir string, f Filter, fn func(*Event) error) error {
	if err := f.Validate(); err != nil {
		return err
	}
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read audit directory: %w", err)
	}
	sort.Strings(dirs)
	for _, d := range dirs {
		logs, _, err := listDir(d)
		if err != nil {
			return fmt.Errorf("read audit directory: %w", err)
		}
		for _, lf := range logs {
			_, err := scanLog(filepath.Join(d, lf.name), 0, func(n int64, line []byte) error {
				var e Event
				if err := json.Unmarshal(line, &e); err != nil {
					return fmt.Errorf("%s:%d: decode event: %w", filepath.Join(d, lf.name), n, err)
				}
				if f.Match(&e) {
					return fn(&e)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// Printer writes events as a table or as JSON Lines.
type Printer struct {
	jsonl bool
	w     io.Writer
	tw    *tabwriter.Writer
	n     int
}

// NewPrinter returns a printer for format "table" or "jsonl".
func NewPrinter(w io.Writer, format string) (*Printer, error) {
	switch format {
	case "jsonl":
		return &Printer{jsonl: true, w: w}, nil
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tEVENT ID\tEVENT\tSIDE\tPRINCIPAL\tCLIENT IP\tSOURCE\tINFERENCE\tPROFILE\tSTATUS\tROUTE")
		return &Printer{w: w, tw: tw}, nil
	}
	return nil, fmt.Errorf("output %q is not a format (use table or jsonl)", format)
}

// Print writes one event. Content is printed only in jsonl.
func (p *Printer) Print(e *Event) error {
	p.n++
	if p.jsonl {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = p.w.Write(append(b, '\n'))
		return err
	}
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	profile := e.InferenceProfileARN[strings.LastIndexByte(e.InferenceProfileARN, '/')+1:]
	route := e.RouteReason
	if !e.Decision.Allowed && e.Decision.Reason != "" {
		route = "denied: " + e.Decision.Reason
	}
	if g := e.Gap; g != nil {
		route = fmt.Sprintf("GAP until %s: %d requests not recorded (%s)", g.Until.UTC().Format(timeLayout), g.LostEvents, g.Cause)
	}
	_, err := fmt.Fprintf(p.tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
		e.EventTime.UTC().Format(timeLayout), dash(e.EventID), dash(e.EventName), dash(string(e.Side)),
		dash(e.UserIdentity.PrincipalID), dash(e.SourceIPAddress), dash(e.SourceRegion), dash(e.InferenceRegion), dash(profile),
		e.StatusCode, dash(route))
	return err
}

// Flush finishes the output and returns the number of events printed.
func (p *Printer) Flush() (int, error) {
	if p.tw != nil {
		return p.n, p.tw.Flush()
	}
	return p.n, nil
}

// LogDirs returns the recording-region directories at or under dir, at
// any depth (as [Query] reads them: audit.dir with one directory per
// region, or a directory of replicas' audit directories), in name order:
// each directory that holds log or digest files, one chain each.
func LogDirs(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		logs, digests, err := listDir(p)
		if err != nil {
			return err
		}
		if len(logs)+len(digests) > 0 {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read audit directory: %w", err)
	}
	sort.Strings(out)
	return out, nil
}
