package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meridian-gateway/meridian/internal/atomicfile"
)

// Options are the dependencies of a [Writer] that are not configuration.
type Options struct {
	// Clock drives file names, rotation, fsync and digest intervals. If nil,
	// [SystemClock] is used.
	Clock Clock
	// Logger receives the writer's own events (key created, torn tail found,
	// digest failed). If nil, nothing is logged.
	Logger *slog.Logger
}

// Writer appends events of one recording region to the audit trail under
// Config.Dir/<region>/. It is safe for concurrent use. One goroutine owns
// the files: it takes queued events in groups, chains and writes each group
// with one write (and, under [SyncAlways], one fsync), rotates files, and
// writes signed digests.
//
// Only one Writer may write a directory at a time.
type Writer struct {
	cfg    Config
	region string
	dir    string
	clock  Clock
	log    *slog.Logger
	priv   ed25519.PrivateKey
	keyID  string

	mu      sync.RWMutex // orders Append's send before Close's drain
	closed  bool
	queue   chan *item
	digestC chan chan error
	closing chan struct{}
	done    chan struct{}
	runErr  error // set by run before done is closed
	hooks   testHooks
	lock    *os.File // held until run ends

	// Owned by the run goroutine.
	seq       uint64 // sequence of the last event written (0: none)
	lastHash  string
	lastID    string
	cur       *logFile
	touched   []*logFile // files with events since the last digest
	buf       []byte
	bufItems  []*item
	bufSeq    uint64 // seq and hash before the first event in buf,
	bufHash   string // restored if the write fails
	dirty     bool   // written but not fsynced
	digestSeq uint64 // sequence of the last digest (0: none)
	digestSum string // hex SHA-256 of the last digest file (GenesisHash before the first)
	digested  uint64 // last event seq covered by a digest
	firstID   string // id of the first event after the last digest
	stats     stats
	syncing   bool // a background fsync is running
	syncRes   chan syncResult
}

// item is one queued event, already encoded by the caller's goroutine.
type item struct {
	id   string
	body []byte
	hash string // set when sealed
	end  int    // offset in the writer's buffer after this event's line
	err  error
	done chan error // buffered; receives err once
}

// logFile is a log file the writer wrote, or found on start-up.
type logFile struct {
	name     string
	firstSeq uint64
	lines    int64
	size     int64     // bytes of complete lines
	sha      hash.Hash // over the first size bytes
	f        logHandle // nil once closed, or for a file found on start-up
	created  time.Time
	touched  bool
}

// Open starts a writer for region, creating Config.Dir/<region>/ and the
// default key as needed. It resumes the hash chain from the last complete
// event on disk; a torn tail left by a crash is logged and left in place, and
// the writer starts a new file rather than appending after it.
func Open(cfg Config, region string, opts Options) (*Writer, error) {
	return open(cfg, region, opts, testHooks{})
}

func (w *Writer) unlock() {
	if w.lock != nil {
		w.lock.Close() // releases the flock
		w.lock = nil
	}
}

// logHandle is the part of *os.File the writer uses for log files.
type logHandle interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// testHooks let tests hold the writer goroutine before each group commit
// (to fill the queue) and wrap log files (to inject write failures).
type testHooks struct {
	beforeCommit func()
	wrapFile     func(*os.File) logHandle
}

// open is Open with test hooks.
func open(cfg Config, region string, opts Options, hooks testHooks) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if region == "" || strings.ContainsAny(region, `/\`) || region == "." || region == ".." {
		return nil, fmt.Errorf("open audit writer: invalid region %q", region)
	}
	cfg = cfg.withDefaults()
	w := &Writer{
		cfg:       cfg,
		region:    region,
		dir:       filepath.Join(cfg.Dir, region),
		clock:     opts.Clock,
		log:       opts.Logger,
		queue:     make(chan *item, cfg.QueueSize),
		digestC:   make(chan chan error),
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
		lastHash:  GenesisHash,
		digestSum: GenesisHash,
		hooks:     hooks,
		syncRes:   make(chan syncResult, 1),
	}
	if w.clock == nil {
		w.clock = SystemClock{}
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("component", "audit", "region", region)
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create audit directory: %w", err)
	}
	lock, err := lockDir(w.dir)
	if err != nil {
		return nil, err
	}
	w.lock = lock
	priv, keyPath, created, err := loadKey(cfg)
	if err != nil {
		w.unlock()
		return nil, err
	}
	w.priv = priv
	w.keyID = KeyID(priv.Public().(ed25519.PublicKey))
	if created {
		w.log.Warn("audit key created; give auditors the public key", "key_file", keyPath, "public_key_file", keyPath+".pub", "key_id", w.keyID)
	}
	if err := w.recover(); err != nil {
		w.unlock()
		return nil, err
	}
	go w.run()
	return w, nil
}

// Region returns the recording region the writer writes for.
func (w *Writer) Region() string { return w.region }

// Stats are counters of a [Writer] since Open, for metrics.
type Stats struct {
	// Written counts events written to the log; Failed counts events whose
	// Append returned an I/O error; Rejected counts [ErrBackpressure].
	Written, Failed, Rejected int64
	// Commits counts group commits (writes); Written/Commits is the
	// average group size.
	Commits int64
	// Digests counts digests written; Files counts log files created.
	Digests, Files int64
	// Queued is the number of events waiting now, out of Capacity.
	Queued, Capacity int
}

type stats struct {
	written, failed, rejected, commits, digests, files atomic.Int64
}

// Stats returns the writer's counters. It is safe to call at any time.
func (w *Writer) Stats() Stats {
	return Stats{
		Written: w.stats.written.Load(), Failed: w.stats.failed.Load(), Rejected: w.stats.rejected.Load(),
		Commits: w.stats.commits.Load(), Digests: w.stats.digests.Load(), Files: w.stats.files.Load(),
		Queued: len(w.queue), Capacity: cap(w.queue),
	}
}

// PublicKey returns the public half of the key that signs digests, for
// auditors.
func (w *Writer) PublicKey() ed25519.PublicKey { return w.priv.Public().(ed25519.PublicKey) }

// Dir returns the directory the writer writes to: Config.Dir/<region>.
func (w *Writer) Dir() string { return w.dir }

// Append records e and returns when it is written: under [SyncAlways] once it
// is on stable storage, under [SyncInterval] once it is written to the OS
// (it is fsynced within Config.FsyncInterval). Call it before answering the
// client, so that a crash can lose only events of unanswered requests.
//
// Append copies e and does not modify it. It sets EventVersion, Side (to
// [SideSource]) and EventTime (to now) when they are empty, sets
// RecordingRegion to the writer's region, drops Content unless
// Config.RecordContent is set, and computes PrevHash and Hash.
//
// When the queue is full, Append returns [ErrBackpressure] at once and the
// event is not recorded; after Close it returns [ErrClosed]; any other error
// (disk full, I/O error) also means the event was not recorded. ctx bounds
// only the wait: a canceled ctx (a client that went away) never keeps the
// event out of the log, and if ctx ends while waiting Append returns
// ctx.Err() while the queued event is still written.
func (w *Writer) Append(ctx context.Context, e *Event) error {
	c := *e
	if c.EventVersion == "" {
		c.EventVersion = EventVersion
	}
	if c.Side == "" {
		c.Side = SideSource
	}
	if c.EventTime.IsZero() {
		c.EventTime = Time{w.clock.Now()}
	}
	c.RecordingRegion = w.region
	if !w.cfg.RecordContent {
		c.Content = nil
	}
	body, err := marshalEvent(&c)
	if err != nil {
		return err
	}
	it := &item{id: c.EventID, body: body, done: make(chan error, 1)}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		return ErrClosed
	}
	select {
	case w.queue <- it:
	default:
		w.mu.RUnlock()
		w.stats.rejected.Add(1)
		return ErrBackpressure
	}
	w.mu.RUnlock()
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Digest writes a signed digest now, covering every event appended before
// the call (it is a no-op when no event arrived since the last digest). The
// writer also writes one every Config.DigestInterval and on Close.
func (w *Writer) Digest(ctx context.Context) error {
	w.mu.RLock()
	closed := w.closed
	w.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	reply := make(chan error, 1)
	select {
	case w.digestC <- reply:
	case <-w.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting events, writes and fsyncs every queued event, writes
// a final digest and closes the files. Appends waiting on queued events
// return once those are written. Close returns the first error of that
// shutdown; calling it again returns the same error.
func (w *Writer) Close() error {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.closing)
	}
	w.mu.Unlock()
	<-w.done
	return w.runErr
}

func (w *Writer) run() {
	defer close(w.done)
	defer w.unlock()
	var syncC <-chan time.Time
	if w.cfg.Fsync == SyncInterval {
		t := w.clock.NewTicker(w.cfg.FsyncInterval)
		defer t.Stop()
		syncC = t.C()
	}
	digestT := w.clock.NewTicker(w.cfg.DigestInterval)
	defer digestT.Stop()
	batch := make([]*item, 0, 256)
	for {
		select {
		case it := <-w.queue:
			if len(w.queue) == 0 {
				// Let callers that are about to append join this group
				// commit: one yield costs far less than a write per event.
				runtime.Gosched()
			}
			batch = w.collect(append(batch[:0], it))
			w.commit(batch)
		case <-syncC:
			w.startSync()
		case r := <-w.syncRes:
			w.syncDone(r)
		case <-digestT.C():
			w.drain(batch)
			if err := w.writeDigest(); err != nil {
				w.log.Error("audit digest failed", "error", err)
			}
		case reply := <-w.digestC:
			w.drain(batch)
			reply <- w.writeDigest()
		case <-w.closing:
			// Append sends only while holding mu.RLock and seeing !closed, so
			// after closing is closed the queue only shrinks.
			w.drain(batch)
			err := w.sync()
			if derr := w.writeDigest(); derr != nil {
				err = errors.Join(err, derr)
			}
			if w.cur != nil {
				if cerr := w.cur.f.Close(); cerr != nil {
					err = errors.Join(err, fmt.Errorf("close %s: %w", w.cur.name, cerr))
				}
				w.cur = nil
			}
			w.runErr = err
			return
		}
	}
}

// collect adds the events already queued to batch, up to a bound that keeps
// one group commit to a few megabytes.
func (w *Writer) collect(batch []*item) []*item {
	for len(batch) < 4096 {
		select {
		case it := <-w.queue:
			batch = append(batch, it)
		default:
			return batch
		}
	}
	return batch
}

// drain commits every queued event.
func (w *Writer) drain(batch []*item) {
	for {
		select {
		case it := <-w.queue:
			batch = w.collect(append(batch[:0], it))
			w.commit(batch)
		default:
			return
		}
	}
}

// commit chains, writes (and under SyncAlways fsyncs) a group of events, then
// releases their callers.
func (w *Writer) commit(items []*item) {
	if w.hooks.beforeCommit != nil {
		w.hooks.beforeCommit()
	}
	now := w.clock.Now()
	for _, it := range items {
		lineLen := int64(len(it.body) + hashHexLen + 1)
		if w.cur != nil && w.needRotate(now, lineLen) {
			w.flush() // closes the file itself if the write fails
			if w.cur != nil {
				w.closeCurrent()
			}
		}
		if w.cur == nil {
			if err := w.openFile(now); err != nil {
				it.err = err
				continue
			}
		}
		if len(w.bufItems) == 0 {
			w.bufSeq, w.bufHash = w.seq, w.lastHash
		}
		w.buf, w.lastHash = seal(w.buf, it.body, w.lastHash)
		w.seq++
		it.hash, it.end = w.lastHash, len(w.buf)
		w.bufItems = append(w.bufItems, it)
	}
	w.flush()
	if w.cfg.Fsync == SyncAlways {
		if err := w.sync(); err != nil {
			for _, it := range items {
				if it.err == nil {
					it.err = err
				}
			}
		}
	}
	var failed int64
	for _, it := range items {
		if it.err != nil {
			failed++
		}
		it.done <- it.err
	}
	w.stats.commits.Add(1)
	w.stats.failed.Add(failed)
	w.stats.written.Add(int64(len(items)) - failed)
}

func (w *Writer) needRotate(now time.Time, lineLen int64) bool {
	size := w.cur.size + int64(len(w.buf))
	lines := w.cur.lines + int64(len(w.bufItems))
	return (lines > 0 && size+lineLen > w.cfg.RotateBytes) || now.Sub(w.cur.created) >= w.cfg.RotateInterval
}

// flush writes the buffered lines to the current file with one write. If the
// write fails, the events whose lines were written completely stay in the
// chain; the others fail, the chain is rolled back to the last complete line,
// and the file is abandoned: a partial line becomes a torn tail, and the next
// event starts a new file.
func (w *Writer) flush() {
	if len(w.bufItems) == 0 {
		return
	}
	defer func() {
		w.buf = w.buf[:0]
		clear(w.bufItems)
		w.bufItems = w.bufItems[:0]
	}()
	n, err := w.cur.f.Write(w.buf)
	done := w.bufItems
	if err != nil {
		err = fmt.Errorf("write audit log %s: %w", w.cur.name, err)
		k := 0
		for k < len(done) && done[k].end <= n {
			k++
		}
		for _, it := range done[k:] {
			it.err = err
		}
		done = done[:k]
		w.seq, w.lastHash = w.bufSeq+uint64(k), w.bufHash
		if k > 0 {
			w.lastHash = done[k-1].hash
		}
	}
	if len(done) > 0 {
		end := done[len(done)-1].end
		w.dirty = true
		w.cur.sha.Write(w.buf[:end])
		w.cur.size += int64(end)
		w.cur.lines += int64(len(done))
		if !w.cur.touched {
			w.cur.touched = true
			w.touched = append(w.touched, w.cur)
		}
		if w.firstID == "" {
			w.firstID = done[0].id
		}
		w.lastID = done[len(done)-1].id
	}
	if err != nil {
		w.log.Error("audit write failed; starting a new file", "file", w.cur.name, "events_failed", len(w.bufItems)-len(done), "error", err)
		w.closeCurrent()
	}
}

// syncResult is the outcome of a background fsync.
type syncResult struct {
	name string
	err  error
}

// startSync fsyncs the current file in the background under SyncInterval,
// so that writes (and the Appends waiting on them) do not stall behind a
// slow fsync. At most one background fsync runs; run waits for it in
// syncDone, and sync waits for it before a rotation, digest or close.
func (w *Writer) startSync() {
	if w.syncing || !w.dirty || w.cur == nil {
		return
	}
	w.syncing, w.dirty = true, false
	f, name := w.cur.f, w.cur.name
	go func() {
		w.syncRes <- syncResult{name, f.Sync()}
	}()
}

func (w *Writer) syncDone(r syncResult) {
	w.syncing = false
	if r.err != nil {
		w.log.Error("audit fsync failed", "file", r.name, "error", r.err)
		if w.cur != nil && w.cur.name == r.name {
			w.dirty = true // try again at the next tick
		}
	}
}

// sync waits for a background fsync, then fsyncs the current file if it has
// unsynced writes.
func (w *Writer) sync() error {
	if w.syncing {
		w.syncDone(<-w.syncRes)
	}
	if !w.dirty || w.cur == nil {
		return nil
	}
	if err := w.cur.f.Sync(); err != nil {
		return fmt.Errorf("fsync audit log %s: %w", w.cur.name, err)
	}
	w.dirty = false
	return nil
}

func (w *Writer) openFile(now time.Time) error {
	var (
		name string
		f    *os.File
		err  error
	)
	// A file abandoned after a failed write may hold the same first
	// sequence; step the name's time until the name is free.
	for i := range 1000 {
		name = logName(w.region, now.Add(time.Duration(i)*time.Millisecond), w.seq+1)
		f, err = os.OpenFile(filepath.Join(w.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create audit log: %w", err)
	}
	var h logHandle = f
	if w.hooks.wrapFile != nil {
		h = w.hooks.wrapFile(f)
	}
	// The new name must survive a crash as surely as the events in it.
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return fmt.Errorf("create audit log %s: %w", name, err)
	}
	w.stats.files.Add(1)
	w.cur = &logFile{name: name, firstSeq: w.seq + 1, sha: sha256.New(), f: h, created: now}
	return nil
}

// closeCurrent fsyncs and closes the current file; the next event opens a
// new one. Errors are logged: the events were already written (and answered
// under SyncInterval), and a digest fsyncs nothing of a closed file.
func (w *Writer) closeCurrent() {
	if err := w.sync(); err != nil {
		w.log.Error("audit fsync before rotation failed", "file", w.cur.name, "error", err)
	}
	if err := w.cur.f.Close(); err != nil {
		w.log.Error("audit log close failed", "file", w.cur.name, "error", err)
	}
	w.cur.f = nil
	w.cur = nil
	w.dirty = false
}

// writeDigest signs and writes a digest of the events since the last one.
// It fsyncs the log first: a digest must never vouch for bytes a machine
// crash could still take back.
func (w *Writer) writeDigest() error {
	if w.seq == w.digested {
		return nil
	}
	if err := w.sync(); err != nil {
		return err
	}
	now := w.clock.Now()
	prev := w.digestSum
	d := &Digest{
		DigestVersion:      DigestVersion,
		Region:             w.region,
		Sequence:           w.digestSeq + 1,
		DigestTime:         Time{now},
		FirstEventSeq:      w.digested + 1,
		LastEventSeq:       w.seq,
		FirstEventID:       w.firstID,
		LastEventID:        w.lastID,
		LastEventHash:      w.lastHash,
		PreviousDigestHash: prev,
		KeyID:              w.keyID,
	}
	for _, f := range w.touched {
		d.Files = append(d.Files, FileCoverage{
			Name: f.name, FirstSeq: f.firstSeq, Lines: f.lines, Size: f.size,
			SHA256: hex.EncodeToString(f.sha.Sum(nil)),
		})
	}
	b, err := signDigest(d, w.priv)
	if err != nil {
		return err
	}
	name := digestName(w.region, now, d.Sequence)
	if err := writeFileAtomic(w.dir, name, b); err != nil {
		return fmt.Errorf("write digest %s: %w", name, err)
	}
	w.stats.digests.Add(1)
	sum := sha256.Sum256(b)
	w.digestSeq, w.digestSum, w.digested = d.Sequence, hex.EncodeToString(sum[:]), w.seq
	w.firstID = ""
	for _, f := range w.touched {
		f.touched = false
	}
	clear(w.touched)
	w.touched = w.touched[:0]
	return nil
}

// writeFileAtomic writes dir/name so that the name never holds a partial
// file.
func writeFileAtomic(dir, name string, b []byte) error {
	return atomicfile.Write(filepath.Join(dir, name), b, 0o644)
}
