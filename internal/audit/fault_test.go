package audit

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// faultFS is the operating system's file system with a disk that tests can
// fill or break: no root and no real full file system needed.
type faultFS struct {
	OSFS
	mu sync.Mutex
	// full leaves room more bytes on the disk: a write that fits takes
	// them, a longer one writes what fits and fails with ENOSPC (a
	// partial write, as a disk filling up mid-write does).
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
	// journalWriteErr makes appending to the journal fail after half of
	// the record went out (a partial record), and nothing else: a rewrite
	// of the journal, through a temporary file and a rename, still works.
	journalWriteErr error
	// journalSyncErr makes fsyncing the journal opened for appending
	// fail, and nothing else.
	journalSyncErr error
	// outageErr makes writing the outage file in place fail, and nothing
	// else.
	outageErr error
	// digestErr makes writing a digest fail (the rename of its temporary
	// file into place), and nothing else.
	digestErr error
	// digestDirSyncErr makes the directory fsync that follows a digest's
	// rename fail: the digest is in place under its name, but the writer
	// hears of a failure. Nothing else fails.
	digestDirSyncErr error
	// logSyncErr makes fsyncing a log file fail, and nothing else.
	logSyncErr error
	// renamed is the base name of the file renamed into place since the
	// last directory fsync.
	renamed string
	// before, when set, is called with the operation ("write", "rename")
	// and the file's base name before each write and rename, without the
	// lock held: tests look at the writer's state at that moment.
	before func(op, name string)
}

func (f *faultFS) set(mutate func(*faultFS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	mutate(f)
}

// heal gives the disk room again.
func (f *faultFS) heal() {
	f.set(func(f *faultFS) {
		f.full, f.room, f.syncErr, f.createErr, f.truncErr = false, 0, nil, nil, nil
		f.journalErr, f.journalWriteErr, f.journalSyncErr, f.outageErr, f.digestErr = nil, nil, nil, nil, nil
		f.digestDirSyncErr, f.logSyncErr = nil, nil
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
	return &faultFile{File: h, fs: f, name: filepath.Base(name), inPlace: flag&(os.O_APPEND|os.O_CREATE|os.O_TRUNC) == 0,
		journal: filepath.Base(name) == journalName && flag&os.O_APPEND != 0}, nil
}

// observe calls the before hook, if any.
func (f *faultFS) observe(op, name string) {
	f.mu.Lock()
	before := f.before
	f.mu.Unlock()
	if before != nil {
		before(op, name)
	}
}

func (f *faultFS) Rename(oldpath, newpath string) error {
	base := filepath.Base(newpath)
	f.observe("rename", base)
	f.mu.Lock()
	err := f.journalErr
	if base != journalName {
		err = nil
	}
	if f.digestErr != nil && strings.HasPrefix(base, "digest-") {
		err = f.digestErr
	}
	f.mu.Unlock()
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	if err := f.OSFS.Rename(oldpath, newpath); err != nil {
		return err
	}
	f.set(func(f *faultFS) { f.renamed = base })
	return nil
}

func (f *faultFS) SyncDir(dir string) error {
	f.mu.Lock()
	err := f.digestDirSyncErr
	if !strings.HasPrefix(f.renamed, digestPrefix) {
		err = nil
	}
	f.renamed = ""
	f.mu.Unlock()
	if err != nil {
		return &fs.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return f.OSFS.SyncDir(dir)
}

type faultFile struct {
	File
	fs   *faultFS
	name string // base name
	// inPlace: the file was opened to overwrite blocks it already owns,
	// which a full disk (ext4, XFS) still allows.
	inPlace bool
	// journal: the journal, opened for appending records.
	journal bool
}

func (f *faultFile) Write(p []byte) (int, error) {
	f.fs.observe("write", f.name)
	f.fs.mu.Lock()
	defer f.fs.mu.Unlock()
	if f.journal && f.fs.journalWriteErr != nil {
		m, _ := f.File.Write(p[:len(p)/2])
		return m, f.fs.journalWriteErr
	}
	if f.name == outageName && f.inPlace && f.fs.outageErr != nil {
		return 0, f.fs.outageErr
	}
	if !f.fs.full || f.inPlace {
		return f.File.Write(p)
	}
	if len(p) <= f.fs.room {
		f.fs.room -= len(p)
		return f.File.Write(p)
	}
	n := f.fs.room
	f.fs.room = 0
	m, _ := f.File.Write(p[:n])
	return m, syscall.ENOSPC
}

func (f *faultFile) Sync() error {
	f.fs.mu.Lock()
	err := f.fs.syncErr
	if f.journal && f.fs.journalSyncErr != nil {
		err = f.fs.journalSyncErr
	}
	if f.fs.logSyncErr != nil && strings.HasPrefix(f.name, logPrefix) && strings.HasSuffix(f.name, logSuffix) {
		err = f.fs.logSyncErr
	}
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
