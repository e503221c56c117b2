package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"os"
)

// scanResult describes a log file read by [scanLog].
type scanResult struct {
	lines int64     // complete lines (ending in '\n')
	size  int64     // bytes of the complete lines
	sha   hash.Hash // SHA-256 of the first size bytes
	torn  int64     // bytes after the last newline: an incomplete line
	// sumAt is the hex SHA-256 of the file's first sumAtSize bytes, when the
	// caller asked for it and a line ended there.
	sumAt string
}

// scanLog reads a log file and calls fn for each complete line (without its
// newline; fn must not keep it). Bytes after the last newline are not passed
// to fn: they are a torn tail, reported in torn. If fn returns an error, the
// scan stops and returns it.
// If sumAtSize > 0, sumAt is set when a line ends at that offset.
func scanLog(path string, sumAtSize int64, fn func(lineNo int64, line []byte) error) (scanResult, error) {
	res := scanResult{sha: sha256.New()}
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var long []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			long = append(long, chunk...)
			continue
		}
		line := chunk
		if long != nil {
			long = append(long, chunk...)
			line = long
		}
		if err == io.EOF {
			res.torn = int64(len(line))
			return res, nil
		}
		if err != nil {
			return res, err
		}
		res.lines++
		res.size += int64(len(line))
		res.sha.Write(line)
		if sumAtSize > 0 && res.size == sumAtSize {
			res.sumAt = hex.EncodeToString(res.sha.Sum(nil))
		}
		if fn != nil {
			if err := fn(res.lines, line[:len(line)-1]); err != nil {
				return res, err
			}
		}
		long = nil
	}
}
