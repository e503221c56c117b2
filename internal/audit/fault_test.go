package audit

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
)

// faultFS is the operating system's file system with a disk that tests can
// fill or break: no root and no real full file system needed.
type faultFS struct {
	OSFS
	mu sync.Mutex
	// full makes every write fail with ENOSPC after writing room more bytes
	// (a partial write, as a disk filling up mid-write does).
	full bool
	room int
	// syncErr makes every fsync of a file fail.
	syncErr error
	// createErr makes creating a file fail (a failed rotation).
	createErr error
	// truncErr makes truncating a file fail.
	truncErr error
	// journalErr makes replacing the journal fail (the rename of its
	// rewritten copy into place), and nothing else.
	journalErr error
}

func (f *faultFS) set(mutate func(*faultFS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mutate(f)
}

// heal gives the disk room again.
func (f *faultFS) heal() {
	f.set(func(f *faultFS) {
		f.full, f.room, f.syncErr, f.createErr, f.truncErr, f.journalErr = false, 0, nil, nil, nil, nil
	})
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f.mu.Lock()
	err := f.createErr
	f.mu.Unlock()
	if err != nil && flag&os.O_CREATE != 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	h, err := f.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: h, fs: f, inPlace: flag&(os.O_APPEND|os.O_CREATE|os.O_TRUNC) == 0}, nil
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	err := f.journalErr
	f.mu.Unlock()
	if err != nil && filepath.Base(newpath) == journalName {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	return f.OSFS.Rename(oldpath, newpath)
}

type faultFile struct {
	File
	fs *faultFS
	// inPlace: the file was opened to overwrite blocks it already owns,
	// which a full disk (ext4, XFS) still allows.
	inPlace bool
}

func (f *faultFile) Write(p []byte) (int, error) {
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if !f.fs.full || f.inPlace {
		return f.File.Write(p)
	}
	n := min(f.fs.room, len(p))
	f.fs.room -= n
	m, _ := f.File.Write(p[:n])
	return m, syscall.ENOSPC
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	err := f.fs.syncErr
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.File.Sync()
}

func (f *faultFile) Truncate(size int64) error {
	f.fs.mu.Lock()
	err := f.fs.truncErr
	f.fs.mu.Unlock()
	if err != nil {
		return err
	}
	return f.File.Truncate(size)
}
