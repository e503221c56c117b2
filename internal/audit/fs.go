package audit

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// FS is the file system a [Writer] writes through. It is the seam that lets
// tests (and fault-injection drills) make the disk full or failing without
// root or a real full file system; production uses [OSFS]. The writer reads
// its own directory (at Open) with the os package directly: reading does
// not fail on a full disk.
type FS interface {
	// OpenFile opens name as [os.OpenFile] does.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// Remove removes a file, as [os.Remove] does.
	Remove(name string) error
	// Rename renames a file, as [os.Rename] does.
	Rename(oldpath, newpath string) error
	// SyncDir fsyncs a directory, so that names created, renamed or removed
	// in it survive a machine crash.
	SyncDir(dir string) error
}

// File is the part of [*os.File] the writer uses.
type File interface {
	Write(p []byte) (int, error)
	Sync() error
	Truncate(size int64) error
	Close() error
}

// OSFS is the operating system's file system.
type OSFS struct{}

var _ FS = OSFS{}

// OpenFile implements [FS].
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // not a typed nil in the interface
	}
	return f, nil
}

// Remove implements [FS].
func (OSFS) Remove(name string) error { return os.Remove(name) }

// Rename implements [FS].
func (OSFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

// SyncDir implements [FS].
func (OSFS) SyncDir(dir string) error { return syncDir(dir) }

// writeFileAtomic writes dir/name through fsys so that the name never holds
// a partial file: a temporary file, fsync, rename, directory fsync. On an
// error before the rename, the temporary file is removed (best effort) and
// dir/name is unchanged. When only the directory fsync fails, dir/name
// already holds b, and a machine crash may leave either it or the old
// file: a caller that retries must write the same name, so that the retry
// replaces it (signDigest keeps a failed digest's name for that).
func writeFileAtomic(fsys FS, dir, name string, b []byte) (err error) {
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := fsys.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			fsys.Remove(tmp)
		}
	}()
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return fsys.SyncDir(dir)
}

// removeFile removes a file and reports whether it is gone.
func removeFile(fsys FS, path string) error {
	if err := fsys.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
