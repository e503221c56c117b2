package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// nameTimeLayout is the UTC time in file names: sortable, no colons.
const nameTimeLayout = "20060102T150405.000Z"

const (
	logPrefix    = "audit-"
	logSuffix    = ".jsonl"
	digestPrefix = "digest-"
	digestSuffix = ".json"
)

// logName is the file name of a log file whose first event has sequence
// number seq: audit-<region>-<UTC time>-<seq, 20 digits>.jsonl.
func logName(region string, t time.Time, seq uint64) string {
	return fmt.Sprintf("%s%s-%s-%020d%s", logPrefix, region, t.UTC().Format(nameTimeLayout), seq, logSuffix)
}

// digestName is the file name of digest number seq.
func digestName(region string, t time.Time, seq uint64) string {
	return fmt.Sprintf("%s%s-%s-%020d%s", digestPrefix, region, t.UTC().Format(nameTimeLayout), seq, digestSuffix)
}

// parseName returns the region and sequence number in a log or digest file
// name made by [logName] or [digestName].
func parseName(name, prefix, suffix string) (region string, seq uint64, ok bool) {
	if !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
		return "", 0, false
	}
	s := strings.TrimSuffix(strings.TrimPrefix(name, prefix), suffix)
	i := strings.LastIndexByte(s, '-')
	if i < 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil || len(s[i+1:]) != 20 {
		return "", 0, false
	}
	s = s[:i]
	j := strings.LastIndexByte(s, '-')
	if j < 0 {
		return "", 0, false
	}
	if _, err := time.Parse(nameTimeLayout, s[j+1:]); err != nil {
		return "", 0, false
	}
	return s[:j], seq, true
}

// dirFile is a log or digest file found in a directory.
type dirFile struct {
	name   string
	region string
	seq    uint64 // first event sequence (log) or digest sequence (digest)
}

// listDir returns the log files and digest files in dir, each ordered by
// sequence number (not by name: a clock stepping back must not reorder them).
func listDir(dir string) (logs, digests []dirFile, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		if r, s, ok := parseName(e.Name(), logPrefix, logSuffix); ok {
			logs = append(logs, dirFile{e.Name(), r, s})
		} else if r, s, ok := parseName(e.Name(), digestPrefix, digestSuffix); ok {
			digests = append(digests, dirFile{e.Name(), r, s})
		}
	}
	bySeq := func(fs []dirFile) {
		sort.SliceStable(fs, func(i, j int) bool {
			if fs[i].seq != fs[j].seq {
				return fs[i].seq < fs[j].seq
			}
			return fs[i].name < fs[j].name
		})
	}
	bySeq(logs)
	bySeq(digests)
	return logs, digests, nil
}

// syncDir fsyncs a directory so that files created in it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(filepath.Clean(dir))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
