package main

import (
	"errors"
	"io/fs"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/meridian-gateway/meridian/internal/audit"
)

// fullDisk is the real file system with a switch that fills it.
type fullDisk struct {
	audit.OSFS
	full atomic.Bool
}

func (d *fullDisk) OpenFile(name string, flag int, perm fs.FileMode) (audit.File, error) {
	f, err := d.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return fullDiskFile{f, d}, nil
}

type fullDiskFile struct {
	audit.File
	d *fullDisk
}

func (f fullDiskFile) Write(p []byte) (int, error) {
	if f.d.full.Load() {
		return 0, syscall.ENOSPC
	}
	return f.File.Write(p)
}

// TestAuditVerifyReportsGap: a log whose writer lost requests to a full
// disk is not called intact: verify says INCOMPLETE, names the gap, the
// lost request and the cause, and exits 1.
func TestAuditVerifyReportsGap(t *testing.T) {
	root := t.TempDir()
	disk := &fullDisk{}
	w, err := audit.Open(audit.Config{Dir: root}, "eu-west-1", audit.Options{FS: disk})
	if err != nil {
		t.Fatal(err)
	}
	ev := func(id string) *audit.Event {
		return &audit.Event{EventID: id, EventName: "ChatCompletions", SourceRegion: "eu-west-1", StatusCode: 200}
	}
	if err := w.Append(t.Context(), ev("req-before")); err != nil {
		t.Fatal(err)
	}
	disk.full.Store(true)
	if err := w.Append(t.Context(), ev("req-lost")); !errors.Is(err, audit.ErrUnavailable) {
		t.Fatalf("Append on a full disk = %v, want ErrUnavailable", err)
	}
	disk.full.Store(false)
	if err := w.Close(); err != nil { // recovers, writes the gap marker
		t.Fatal(err)
	}
	out, stderr, err := runCLI(t, "audit", "verify", root)
	if !errors.Is(err, errSilentFailure) {
		t.Errorf("audit verify of a log with a gap = %v, want exit 1", err)
	}
	for _, want := range []string{"INCOMPLETE", "gap:", "1 request has no event", "req-lost", "no space left on device"} {
		if !strings.Contains(out, want) {
			t.Errorf("audit verify output lacks %q:\n%s%s", want, out, stderr)
		}
	}
	t.Logf("audit verify:\n%s", out)
	if strings.Contains(out, "intact") {
		t.Errorf("audit verify calls a log with a gap intact:\n%s", out)
	}
}
