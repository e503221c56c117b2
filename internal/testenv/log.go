package testenv

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

// Log collects the output of a node under test (its logger, or the copying
// goroutines of a child process) and wakes [Log.Await] at every write, so
// that a test waits for the line that says what it waits for rather than
// polling. It is safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed (and cleared) at the next write
}

// logHangGuard bounds a wait for a log line that only a bug would keep from
// coming.
const logHangGuard = time.Minute

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Await waits until the log holds want (what names it in a failure). It
// fails the test if exited is closed first (a process that ended; nil for
// none) or at a hang guard.
func (l *Log) Await(t testing.TB, what, want string, exited <-chan struct{}) {
	t.Helper()
	guard := time.NewTimer(logHangGuard)
	defer guard.Stop()
	for {
		l.mu.Lock()
		got := strings.Contains(l.b.String(), want)
		if l.changed == nil {
			l.changed = make(chan struct{})
		}
		changed := l.changed
		l.mu.Unlock()
		if got {
			return
		}
		select {
		case <-changed:
		case <-exited:
			if strings.Contains(l.String(), want) { // written as it exited
				return
			}
			t.Fatalf("no %s: the process exited before it logged %q:\n%s", what, want, l.String())
		case <-guard.C:
			t.Fatalf("no %s: the log never said %q:\n%s", what, want, l.String())
		}
	}
}
