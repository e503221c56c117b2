package audit

import (
	"fmt"
	"os"
	"path/filepath"
)

// recover rebuilds the writer's state from the directory: the last digest,
// and the events written after it, which the next digest must cover.
func (w *Writer) recover() error {
	logs, digests, err := listDir(w.dir)
	if err != nil {
		return fmt.Errorf("read audit directory: %w", err)
	}
	logs = onlyRegion(logs, w.region)
	digests = onlyRegion(digests, w.region)
	if n := len(digests); n > 0 {
		name := digests[n-1].name
		b, err := os.ReadFile(filepath.Join(w.dir, name))
		if err != nil {
			return fmt.Errorf("read last digest: %w", err)
		}
		// The writer trusts its own directory (and may have a new key);
		// `meridian audit verify` is what checks signatures.
		d, sum, err := parseDigest(b, nil)
		if err != nil {
			return fmt.Errorf("read last digest %s: %w (run `meridian audit verify %s`)", name, err, w.dir)
		}
		w.digestSeq, w.digestSum, w.digested = d.Sequence, sum, d.LastEventSeq
		w.seq, w.lastHash, w.lastID = d.LastEventSeq, d.LastEventHash, d.LastEventID
	}
	for i, lf := range logs {
		// Files that end before the digested range need no reading: they
		// hold neither the chain's head nor uncovered events.
		if i+1 < len(logs) && logs[i+1].seq <= w.digested+1 {
			continue
		}
		if err := w.recoverFile(lf); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) recoverFile(lf dirFile) error {
	path := filepath.Join(w.dir, lf.name)
	var (
		lastLine []byte
		lastNo   int64
		firstID  string
	)
	res, err := scanLog(path, 0, func(n int64, line []byte) error {
		seq := lf.seq + uint64(n) - 1
		if seq == w.digested+1 && w.firstID == "" {
			e, err := ParseLine(line)
			if err != nil {
				return fmt.Errorf("%s:%d: %w", lf.name, n, err)
			}
			firstID = e.EventID
		}
		lastLine = append(lastLine[:0], line...)
		lastNo = n
		return nil
	})
	if err != nil {
		return fmt.Errorf("read audit log %s: %w (run `meridian audit verify %s`)", lf.name, err, w.dir)
	}
	if res.torn > 0 {
		w.log.Warn("audit torn tail found; starting a new file", "file", lf.name, "line", res.lines+1, "bytes", res.torn)
	}
	if res.lines == 0 {
		return nil
	}
	e, err := ParseLine(lastLine)
	if err != nil {
		return fmt.Errorf("read audit log %s:%d: %w (run `meridian audit verify %s`)", lf.name, lastNo, err, w.dir)
	}
	last := lf.seq + uint64(res.lines) - 1
	if last < w.seq {
		return fmt.Errorf("read audit log %s: it ends at event %d, before event %d of the last digest (run `meridian audit verify %s`)", lf.name, last, w.seq, w.dir)
	}
	w.seq, w.lastHash, w.lastID = last, e.Hash, e.EventID
	if firstID != "" {
		w.firstID = firstID
	}
	if last > w.digested {
		w.touched = append(w.touched, &logFile{
			name: lf.name, firstSeq: lf.seq, lines: res.lines, size: res.size, sha: res.sha, touched: true,
		})
	}
	return nil
}

func onlyRegion(fs []dirFile, region string) []dirFile {
	out := fs[:0:0]
	for _, f := range fs {
		if f.region == region {
			out = append(out, f)
		}
	}
	return out
}
