package audit

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/meridian-gateway/meridian/internal/clock"
	"hash"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options are the dependencies of a [Writer] that are not configuration.
type Options struct {
	// Clock drives file names, rotation, fsync and digest intervals. If nil,
	// [clock.Wall] is used.
	Clock Clock
	// Logger receives the writer's own events (key created, torn tail found,
	// digest failed). If nil, nothing is logged.
	Logger *slog.Logger
	// FS is the file system the writer writes through. If nil, [OSFS] is
	// used; tests inject a full or failing disk here.
	FS FS
}

// Writer appends events of one recording region to the audit trail under
// Config.Dir/<region>/. It is safe for concurrent use. Whoever holds state
// owns the files: the writer's goroutine takes queued events in groups,
// chains and writes each group with one write (and, under [SyncAlways], one
// fsync), rotates files, and writes signed digests; a caller that finds the
// writer idle and the queue empty commits its own event instead, in its own
// goroutine, which spares an unloaded node two goroutine hand-offs per
// request (the queue and the reply) while a loaded one still commits in
// groups.
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
	fs     FS

	mu      sync.RWMutex // orders Append's send before Close's drain
	closed  bool
	queue   chan *item
	pending atomic.Int64 // queued items the run goroutine has not begun to commit (see enqueue)
	digestC chan chan error
	closing chan struct{}
	done    chan struct{}
	runErr  error // set by run before done is closed
	hooks   testHooks
	lock    *os.File // held until run ends

	// state guards everything below it: the run goroutine holds it while it
	// handles anything, and an idle writer's caller while it commits inline
	// (see enqueue).
	state sync.Mutex
	// wake tells the run goroutine to look again at what it waits for (a
	// probe armed by an inline commit's failure).
	wake chan struct{}

	seq       uint64 // sequence of the last event written (0: none)
	lastHash  string
	lastID    string
	cur       *logFile
	touched   []*logFile // files with events since the last digest
	buf       []byte
	inline    []*item // the group of an inline commit (see enqueue)
	bufItems  []*item
	bufSeq    uint64 // seq and hash before the first event in buf,
	bufHash   string // restored if the write fails
	dirty     bool   // written but not fsynced
	digestSeq uint64 // sequence of the last digest (0: none)
	digestSum string // hex SHA-256 of the last digest file (GenesisHash before the first)
	digested  uint64 // last event seq covered by a digest
	firstID   string // id of the first event after the last digest
	stats     stats
	syncing   bool          // a background fsync is running
	syncC     chan struct{} // closed when that fsync ends; its result is in syncR
	syncR     syncResult
	journal   journal // intents of streams whose first byte went out
	out       *outage // non-nil while the trail cannot be written
	probeT    Ticker  // fires the next recovery attempt during an outage
	backoff   time.Duration
	markerSeq uint64   // sequence of the last gap marker written
	cleanup   []string // empty files a failed write left and could not remove yet
	torn      []string // files a failed write left with a partial line

	// digestRetry is the name of digest digestSeq+1 when writing it failed:
	// the failure may have come after the rename (the directory fsync), so
	// the file may be in place, and the retry reuses the name to replace it.
	digestRetry string

	unavail atomic.Pointer[UnavailableError] // published copy of out, for Err
}

// itemKind says what a queued item asks of the writer.
type itemKind uint8

const (
	kindEvent itemKind = iota // append an event to the log
	kindBegin                 // journal a stream's intent
)

// item is one queued event (already encoded by the caller's goroutine) or
// stream intent.
type item struct {
	kind    itemKind
	id      string
	side    Side
	body    []byte      // kindEvent: the unsealed line
	intent  *openIntent // kindBegin: the intent, its seq set when journaled
	hash    string      // set when sealed
	end     int         // offset in the writer's buffer after this event's line
	written bool        // the event's line is in the log
	err     error
	// done is buffered and receives err once; nil for the writer's own
	// items (gap markers, deferred and interrupted events).
	done chan error
}

// itemPool recycles callers' items, with their reply channel and body
// buffer, so that an event costs no allocation of its own but its hash.
// An item goes back once its caller has received the writer's reply (see
// release), after which the writer never touches it; one whose caller
// stopped waiting (its ctx ended) is left to the garbage collector.
var itemPool = sync.Pool{New: func() any { return &item{done: make(chan error, 1)} }}

// maxPooledBody is the largest body buffer an item keeps in the pool (an
// event with recorded content may be far larger than most).
const maxPooledBody = 64 << 10

func getItem() *item { return itemPool.Get().(*item) }

// putItem returns a caller's item to the pool; its done channel is empty.
func putItem(it *item) {
	body := it.body
	if cap(body) > maxPooledBody {
		body = nil
	}
	*it = item{body: body[:0], done: it.done}
	itemPool.Put(it)
}

// logFile is a log file the writer wrote, or found on start-up.
type logFile struct {
	name     string
	firstSeq uint64
	lines    int64
	size     int64     // bytes of complete lines
	sha      hash.Hash // over the first size bytes
	f        File      // nil once closed, or for a file found on start-up
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

// testHooks let tests hold the writer goroutine before each group commit
// (to fill the queue) and move the journal's compaction threshold.
// Failures are injected through [Options.FS].
type testHooks struct {
	beforeCommit func()
	// journalCompactBytes replaces journalCompactBytes when not zero.
	journalCompactBytes int64
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
		fs:        opts.FS,
		queue:     make(chan *item, cfg.QueueSize),
		digestC:   make(chan chan error),
		closing:   make(chan struct{}),
		done:      make(chan struct{}),
		lastHash:  GenesisHash,
		digestSum: GenesisHash,
		hooks:     hooks,
		wake:      make(chan struct{}, 1),
	}
	if w.clock == nil {
		w.clock = clock.Wall
	}
	if w.fs == nil {
		w.fs = OSFS{}
	}
	w.journal = journal{path: filepath.Join(w.dir, journalName), open: map[intentKey]*openIntent{}, compactAt: journalCompactBytes}
	if hooks.journalCompactBytes != 0 {
		w.journal.compactAt = hooks.journalCompactBytes
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
	if within(cfg.Dir, keyPath) {
		w.log.Warn("the audit signing key lies inside audit.dir: whoever can write the log can likely read it, and sign a forged trail; for production set audit.key_file outside audit.dir (docs/audit.md, Configuration)",
			"key_file", keyPath, "dir", cfg.Dir)
	}
	if err := w.recover(); err != nil {
		w.unlock()
		return nil, err
	}
	if err := w.recoverIntents(); err != nil {
		w.unlock()
		return nil, err
	}
	w.recoverOutage()
	w.state.Lock() // handed to run, which releases it after startup
	go w.run()
	return w, nil
}

// Region returns the recording region the writer writes for.
func (w *Writer) Region() string { return w.region }

// Stats are counters of a [Writer] since Open, for metrics.
type Stats struct {
	// Written counts events written to the log; Failed counts events whose
	// Append returned an error other than back-pressure; Rejected counts
	// [ErrBackpressure].
	Written, Failed, Rejected int64
	// Commits counts group commits (writes); Written/Commits is the
	// average group size.
	Commits int64
	// Digests counts digests written; Files counts log files created.
	Digests, Files int64
	// Queued is the number of events waiting now, out of Capacity.
	Queued, Capacity int
	// Unavailable is true while the trail cannot be written (see
	// [Writer.Err]); Outages counts the times it became so.
	Unavailable bool
	Outages     int64
	// Lost counts events not recorded because of an outage: their
	// requests were refused or answered with an error, and a gap marker
	// counts them in the log.
	Lost int64
}

type stats struct {
	written, failed, rejected, commits, digests, files, outages, lost atomic.Int64
}

// Stats returns the writer's counters. It is safe to call at any time.
func (w *Writer) Stats() Stats {
	return Stats{
		Written: w.stats.written.Load(), Failed: w.stats.failed.Load(), Rejected: w.stats.rejected.Load(),
		Commits: w.stats.commits.Load(), Digests: w.stats.digests.Load(), Files: w.stats.files.Load(),
		Queued: int(w.pending.Load()), Capacity: cap(w.queue),
		Unavailable: w.unavail.Load() != nil, Outages: w.stats.outages.Load(), Lost: w.stats.lost.Load(),
	}
}

// Err returns nil while the trail can be written, and an
// [*UnavailableError] (which matches [ErrUnavailable]) from the moment a
// write, fsync, file creation or digest failed until the writer has
// recovered. The gateway refuses new requests while it is non-nil. It is
// safe to call at any time and costs one atomic load.
func (w *Writer) Err() error {
	if u := w.unavail.Load(); u != nil {
		return u
	}
	return nil
}

// PublicKey returns the public half of the key that signs digests, for
// auditors.
func (w *Writer) PublicKey() ed25519.PublicKey { return w.priv.Public().(ed25519.PublicKey) }

// Dir returns the directory the writer writes to: Config.Dir/<region>.
func (w *Writer) Dir() string { return w.dir }

// prepare copies e and fills what the writer owns.
func (w *Writer) prepare(e *Event) Event {
	c := *e
	w.fill(&c)
	return c
}

// fill fills what the writer owns in an event the caller owns.
func (w *Writer) fill(c *Event) {
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
	c.Gap = nil // only the writer writes gap markers
}

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
// event is not recorded; after Close it returns [ErrClosed]. While the trail
// cannot be written (a full disk, an I/O error) it returns an error matching
// [ErrUnavailable]: the event is not recorded and the gap marker written on
// recovery counts it; except that the event of a stream begun with
// [Writer.Begin] is kept and written once the trail recovers (the error
// says so). ctx bounds only the wait: a canceled ctx (a client that went
// away) never keeps the event out of the log, and if ctx ends while waiting
// Append returns ctx.Err() while the queued event is still written.
func (w *Writer) Append(ctx context.Context, e *Event) error {
	_, err := w.enqueue(ctx, w.eventItem(e))
	return err
}

// eventItem prepares and encodes e into an item from the pool.
func (w *Writer) eventItem(e *Event) *item {
	c := w.prepare(e)
	it := getItem()
	it.kind, it.id, it.side = kindEvent, c.EventID, c.Side
	it.body = appendUnsealed(it.body, &c)
	return it
}

// Begin records, in a journal beside the log, that the response to e's
// request has started: call it before a stream's first byte goes out, and
// [Writer.Append] the request's event when the stream ends. If the process
// dies in between, the next Open writes e (as known at Begin) with
// ErrorCode [InterruptedErrorCode]; if the writer is closed in between,
// Close does. Either way exactly one event per request reaches the log.
// Begin may be called while the stream's attempt runs, and again for the
// same event (a failover to another region): the last intent replaces the
// earlier ones.
//
// Begin returns once the intent is written (under [SyncAlways], fsynced).
// While the trail is unavailable it returns the [*UnavailableError] at once:
// the stream must not start. Errors are those of Append.
func (w *Writer) Begin(ctx context.Context, e *Event) error {
	if u := w.unavail.Load(); u != nil {
		return u
	}
	p := &intentParts{}
	p.parts.event = *e
	return w.begin(ctx, p)
}

// begin is Begin of the event in p.parts, which p owns (the event's parts
// may point into p.parts too): it prepares the event in place.
func (w *Writer) begin(ctx context.Context, p *intentParts) error {
	if u := w.unavail.Load(); u != nil {
		return u
	}
	ev := &p.parts.event
	w.fill(ev)
	ev.Content = nil // the journal is no place for prompts
	it := getItem()
	// The begin record is encoded into the item's pooled buffer: the
	// writer copies it into the journal's pending records (and drops the
	// intent's reference) before it replies.
	it.body = beginPrefix(it.body, ev)
	p.oi = openIntent{ev: ev, rec: it.body}
	it.kind, it.id, it.side, it.intent = kindBegin, ev.EventID, ev.Side, &p.oi
	_, err := w.enqueue(ctx, it)
	return err
}

// intentParts is a stream's intent as Begin builds it: the event (with the
// parts it points to, when Recorder.BeginStream builds it) and the open
// intent that points to it, allocated together.
type intentParts struct {
	parts eventParts
	oi    openIntent
}

// enqueue hands it to the writer goroutine and waits for the outcome: the
// error, and with a nil error the event's hash. It owns it from then on and
// returns it to the pool, unless ctx ended first (the writer still holds
// it and replies later).
func (w *Writer) enqueue(ctx context.Context, it *item) (hash string, err error) {
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		putItem(it)
		return "", ErrClosed
	}
	if len(w.queue) == 0 && w.unavail.Load() == nil && w.state.TryLock() {
		// Idle: commit here. Close cannot finish meanwhile (its drain
		// needs state), and the queue may fill behind us: the run
		// goroutine commits it once state is free. During an outage
		// everything goes through the queue, which the recovery probe
		// orders itself with.
		w.mu.RUnlock()
		// Events queued meanwhile join this commit (one write for all).
		w.inline = w.collect(append(w.inline[:0], it))
		w.commit(w.inline)
		clear(w.inline) // the items go back to the pool
		armed := w.probeT != nil
		w.state.Unlock()
		if armed {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
		return release(it, <-it.done)
	}
	// pending counts the queue and the item the run goroutine may hold
	// while it waits for an inline commit to end (see run), so the send
	// below never blocks and the bound is exactly Config.QueueSize.
	if w.pending.Add(1) > int64(cap(w.queue)) {
		w.pending.Add(-1)
		w.mu.RUnlock()
		w.stats.rejected.Add(1)
		putItem(it)
		return "", ErrBackpressure
	}
	w.queue <- it
	w.mu.RUnlock()
	select {
	case err := <-it.done:
		return release(it, err)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// release returns it, whose reply err was received from it.done, to the
// pool, with its hash when err is nil. The reply was the writer's last
// touch of it (the hash was set before, and the channel orders the two).
func release(it *item, err error) (string, error) {
	var hash string
	if err == nil {
		hash = it.hash
	}
	putItem(it)
	return hash, err
}

// Digest writes a signed digest now, covering every event appended before
// the call (it is a no-op when no event arrived since the last one). The
// writer also writes one every Config.DigestInterval and on Close. While the
// trail is unavailable it returns the [*UnavailableError].
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
// the event of every stream begun but not ended (as interrupted), writes a
// final digest and closes the files. Appends waiting on queued events
// return once those are written. If the trail is unavailable, Close makes
// one more attempt to recover it and otherwise returns the
// [*UnavailableError]. Close returns the first error of that shutdown;
// calling it again returns the same error.
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
	defer w.stopProbe()
	w.startup() // state is held since Open
	batch := make([]*item, 0, 256)
	for {
		var probeC <-chan time.Time
		if w.probeT != nil {
			probeC = w.probeT.C()
		}
		synced := w.syncC
		w.state.Unlock()
		select {
		case it := <-w.queue:
			if len(w.queue) == 0 {
				// Let callers that are about to append join this group
				// commit: one yield costs far less than a write per event.
				runtime.Gosched()
			}
			w.state.Lock()
			w.pending.Add(-1)
			batch = w.collect(append(batch[:0], it))
			w.commit(batch)
		case <-syncC:
			w.state.Lock()
			w.startSync()
		case <-synced:
			w.state.Lock()
			if w.syncing && w.syncC == synced { // not already taken by waitSync
				w.syncDone()
			}
		case <-probeC:
			w.state.Lock()
			if w.probeT != nil {
				w.probe()
			}
		case <-w.wake:
			w.state.Lock()
		case <-digestT.C():
			w.state.Lock()
			w.drain(batch)
			if w.out == nil {
				if err := w.writeDigest(); err != nil {
					w.fail(err)
				}
			}
		case reply := <-w.digestC:
			w.state.Lock()
			w.drain(batch)
			reply <- w.digestNow()
		case <-w.closing:
			// Append sends only while holding mu.RLock and seeing !closed, so
			// after closing is closed the queue only shrinks; an inline
			// commit still running holds state until it is done.
			w.state.Lock()
			w.drain(batch)
			w.runErr = w.shutdown()
			w.state.Unlock()
			return
		}
	}
}

// startup writes the events Open recovered from the journal (streams a
// crash interrupted) and starts a fresh journal.
func (w *Writer) startup() {
	if w.out != nil {
		// The previous writer stopped during an outage: record it first.
		w.backoff = probeMin
		w.publish()
		if w.unsaved() {
			// recoverOutage moved streams' unconfirmed events to deferred
			// (a machine crash took their lines back): the outage file
			// counts them no longer before the marker exists, so that a
			// restart finds the marker by the file's counts (see
			// markerAfter).
			if err := w.saveOutage(); err != nil {
				w.log.Warn("audit outage not saved: a restart after the gap marker may write it again", "error", err)
			}
		}
		w.probe()
		return
	}
	if _, err := w.writeKept(nil); err != nil {
		// The writer is unavailable and probes. The outage file was saved
		// when the write failed, before writeKept counted the events it
		// left in the log as unconfirmed.
		if w.out != nil && w.unsaved() {
			w.saveOutage() // logged by the probes if it keeps failing
		}
		return
	}
	if err := w.rewriteJournal(); err != nil {
		w.fail(err)
		return
	}
	if err := w.preallocateOutage(); err != nil {
		w.fail(err)
	}
}

// shutdown is the end of run: streams still open are written as
// interrupted, the log is fsynced and digested, the files closed.
func (w *Writer) shutdown() error {
	w.waitSync()
	if w.out != nil {
		w.probe() // one last attempt, so that the gap marker is written
	}
	if w.out == nil {
		for _, oi := range w.journal.open {
			if oi.final == nil {
				oi.final = interruptedBody(oi.ev, w.region)
			}
		}
		if _, err := w.writeKept(nil); err == nil && len(w.journal.open) == 0 {
			if err := w.rewriteJournal(); err != nil {
				w.fail(err)
			}
		}
	}
	var err error
	if w.out != nil {
		// The journal keeps the intents of streams whose events are not
		// written; the next Open writes them.
		w.saveOutage() // the next start writes the gap marker
		msg := "audit trail closed while unavailable: the next start records the gap"
		if w.recorded() {
			msg = "audit trail closed while unavailable: a gap marker records the outage; the next start signs the digest"
		}
		w.log.Error(msg, "since", w.out.since, "lost_events", w.out.lost, "error", w.out.cause)
		err = w.unavail.Load()
	} else {
		err = w.sync()
		if derr := w.writeDigest(); derr != nil {
			err = errors.Join(err, derr)
		}
	}
	if w.cur != nil {
		if cerr := w.cur.f.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close %s: %w", w.cur.name, cerr))
		}
		w.cur = nil
	}
	w.journal.close()
	return err
}

// digestNow answers Writer.Digest.
func (w *Writer) digestNow() error {
	if u := w.unavail.Load(); u != nil {
		return u
	}
	if err := w.writeDigest(); err != nil {
		w.fail(err)
		return err
	}
	return nil
}

// collect adds the events already queued to batch, up to a bound that keeps
// one group commit to a few megabytes.
func (w *Writer) collect(batch []*item) []*item {
	for len(batch) < 4096 {
		select {
		case it := <-w.queue:
			w.pending.Add(-1)
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
			w.pending.Add(-1)
			batch = w.collect(append(batch[:0], it))
			w.commit(batch)
		default:
			return
		}
	}
}

// commit chains, writes (and under SyncAlways fsyncs) a group of events,
// journals the stream intents among them, then releases their callers.
func (w *Writer) commit(items []*item) {
	if w.hooks.beforeCommit != nil {
		w.hooks.beforeCommit()
	}
	now := w.clock.Now()
	durable := w.cfg.Fsync == SyncAlways
	for _, it := range items {
		if it.kind != kindEvent {
			continue
		}
		lineLen := int64(len(it.body) + hashHexLen + 1)
		if w.out == nil && w.cur != nil && w.needRotate(now, lineLen) {
			w.writeBuffered(durable)
			if w.out == nil {
				if err := w.closeCurrent(); err != nil {
					w.fail(err)
				}
			}
		}
		if w.out == nil && w.cur == nil {
			if err := w.openFile(now); err != nil {
				w.fail(err)
			}
		}
		if w.out != nil {
			w.unrecorded(it)
			continue
		}
		w.buffer(it)
	}
	w.writeBuffered(durable)
	w.journalCommit(items)
	if w.out != nil && w.unsaved() {
		// Before the callers hear of it: a restart must not forget a loss,
		// nor an outage no marker records (a stream's event kept).
		w.saveOutage() // logged by the probes if it keeps failing
	}
	var failed, written int64
	for _, it := range items {
		if it.kind == kindEvent {
			if it.err != nil {
				failed++
			} else {
				written++
			}
		}
		it.done <- it.err
	}
	w.stats.commits.Add(1)
	w.stats.failed.Add(failed)
	w.stats.written.Add(written)
}

// buffer seals it onto the chain in the write buffer.
func (w *Writer) buffer(it *item) {
	if len(w.bufItems) == 0 {
		w.bufSeq, w.bufHash = w.seq, w.lastHash
	}
	w.buf, w.lastHash = seal(w.buf, it.body, w.lastHash)
	w.seq++
	it.hash, it.end = w.lastHash, len(w.buf)
	w.bufItems = append(w.bufItems, it)
}

func (w *Writer) needRotate(now time.Time, lineLen int64) bool {
	size := w.cur.size + int64(len(w.buf))
	lines := w.cur.lines + int64(len(w.bufItems))
	return (lines > 0 && size+lineLen > w.cfg.RotateBytes) || now.Sub(w.cur.created) >= w.cfg.RotateInterval
}

// writeBuffered writes the buffered lines to the current file with one
// write and, when durable, fsyncs them. It marks the items whose lines are
// in the log as written.
//
// On failure the writer becomes unavailable at once and abandons the file,
// after taking back what it must not keep: a partial line always, and under
// durable every line of the write (none was confirmed), so the file ends at
// a complete line and an empty file is removed. The chain is rolled back to
// the last line kept. Items not kept are unrecorded (see unrecorded). If
// the file cannot be truncated, its complete lines stay in the chain (under
// durable they still fail, counted as unconfirmed in the gap marker) and a
// partial line stays as a torn tail that the gap marker names.
func (w *Writer) writeBuffered(durable bool) error {
	items := w.bufItems
	if len(items) == 0 {
		return nil
	}
	defer func() {
		w.buf = w.buf[:0]
		clear(w.bufItems)
		w.bufItems = w.bufItems[:0]
	}()
	cur := w.cur
	n, err := cur.f.Write(w.buf)
	inLog := len(items) // items whose complete lines are in the file
	if err != nil {
		err = fmt.Errorf("write audit log %s: %w", cur.name, err)
		inLog = 0
		for inLog < len(items) && items[inLog].end <= n {
			inLog++
		}
	} else if durable {
		if serr := cur.f.Sync(); serr != nil {
			err = fmt.Errorf("fsync audit log %s: %w", cur.name, serr)
		}
	}
	confirmed := inLog
	if err != nil {
		if durable {
			confirmed = 0
		}
		keep := 0
		if confirmed > 0 {
			keep = items[confirmed-1].end
		}
		if terr := cur.f.Truncate(cur.size + int64(keep)); terr == nil {
			inLog = confirmed
		} else {
			tornAt := 0
			if inLog > 0 {
				tornAt = items[inLog-1].end
			}
			if n > tornAt {
				w.torn = append(w.torn, cur.name)
			}
			w.log.Error("audit log not truncated after a failed write", "file", cur.name, "error", terr)
		}
	}
	if inLog < len(items) {
		w.seq, w.lastHash = w.bufSeq+uint64(inLog), w.bufHash
		if inLog > 0 {
			w.lastHash = items[inLog-1].hash
		}
	}
	if inLog > 0 {
		done := items[:inLog]
		end := done[inLog-1].end
		w.dirty = w.dirty || !durable || err != nil
		cur.sha.Write(w.buf[:end])
		cur.size += int64(end)
		cur.lines += int64(inLog)
		if !cur.touched {
			cur.touched = true
			w.touched = append(w.touched, cur)
		}
		if w.firstID == "" {
			w.firstID = done[0].id
		}
		w.lastID = done[inLog-1].id
		for _, it := range done {
			it.written = true
		}
	}
	if err == nil {
		if durable {
			w.dirty = false
		}
		return nil
	}
	w.failAfter(err, w.bufSeq+uint64(confirmed))
	for _, it := range items[confirmed:inLog] {
		if it.done != nil {
			it.err = w.unavail.Load()
			w.countUnconfirmed(it)
		}
	}
	for _, it := range items[inLog:] {
		w.unrecorded(it)
	}
	w.abandon()
	return err
}

// syncResult is the outcome of a background fsync.
type syncResult struct {
	name string
	err  error
}

// startSync fsyncs the current file (and the journal) in the background
// under SyncInterval, so that writes (and the Appends waiting on them) do
// not stall behind a slow fsync. At most one background fsync runs; run
// waits for it in syncDone, and sync waits for it before a rotation,
// digest, journal rewrite or close.
func (w *Writer) startSync() {
	if w.syncing || !w.dirty || w.cur == nil || w.out != nil {
		return
	}
	w.syncing, w.dirty = true, false
	f, name, jf := w.cur.f, w.cur.name, w.journal.f
	done := make(chan struct{})
	w.syncC = done
	go func() {
		err := f.Sync()
		if err != nil {
			err = fmt.Errorf("fsync audit log %s: %w", name, err)
		} else if jf != nil {
			if jerr := jf.Sync(); jerr != nil {
				err = fmt.Errorf("fsync audit journal: %w", jerr)
			}
		}
		w.syncR = syncResult{name, err} // published by closing done
		close(done)
	}()
}

// syncDone takes the result of a background fsync. A failed fsync makes
// the trail unavailable: the kernel may have dropped the unsynced pages, so
// the writer cannot vouch for them, and it stops admitting requests.
func (w *Writer) syncDone() {
	r := w.syncR
	w.syncing, w.syncC, w.syncR = false, nil, syncResult{}
	if r.err != nil {
		w.fail(r.err)
	}
}

// waitSync waits for a background fsync to finish.
func (w *Writer) waitSync() {
	if w.syncing {
		<-w.syncC
		w.syncDone()
	}
}

// sync waits for a background fsync, then fsyncs the current file if it has
// unsynced writes.
func (w *Writer) sync() error {
	w.waitSync()
	if u := w.unavail.Load(); u != nil {
		return u
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

// openFile creates the next log file. A file it created but could not make
// durable is removed again, so a failed rotation leaves no empty file.
func (w *Writer) openFile(now time.Time) error {
	var (
		name string
		f    File
		err  error
	)
	// A file abandoned after a failed write may hold the same first
	// sequence; step the name's time until the name is free.
	for i := range 1000 {
		name = logName(w.region, now.Add(time.Duration(i)*time.Millisecond), w.seq+1)
		f, err = w.fs.OpenFile(filepath.Join(w.dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create audit log: %w", err)
	}
	// The new name must survive a crash as surely as the events in it.
	if err := w.fs.SyncDir(w.dir); err != nil {
		f.Close()
		w.removeEmpty(name)
		return fmt.Errorf("create audit log %s: %w", name, err)
	}
	w.stats.files.Add(1)
	w.cur = &logFile{name: name, firstSeq: w.seq + 1, sha: sha256.New(), f: f, created: now}
	return nil
}

// removeEmpty removes a log file that holds no event; if that fails too,
// the next recovery attempt removes it.
func (w *Writer) removeEmpty(name string) {
	path := filepath.Join(w.dir, name)
	if err := removeFile(w.fs, path); err != nil {
		w.cleanup = append(w.cleanup, path)
		return
	}
	w.fs.SyncDir(w.dir) // best effort: a crash now leaves an empty file at worst
}

// closeCurrent fsyncs and closes the current file; the next event opens a
// new one.
func (w *Writer) closeCurrent() error {
	err := w.sync()
	if cerr := w.cur.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close audit log %s: %w", w.cur.name, cerr)
	}
	w.cur.f = nil
	w.cur = nil
	w.dirty = false
	return err
}

// abandon closes the current file after a failure, without trusting it
// further, and removes it if it holds no event.
func (w *Writer) abandon() {
	if w.cur == nil {
		return
	}
	w.waitSync()
	cur := w.cur
	w.cur, w.dirty = nil, false
	cur.f.Sync() // best effort for the lines kept; the outage is already declared
	cur.f.Close()
	cur.f = nil
	if cur.lines == 0 {
		// Nothing of the chain is in it (at most a partial line).
		w.torn = slices.DeleteFunc(w.torn, func(n string) bool { return n == cur.name })
		w.removeEmpty(cur.name)
	}
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
	// End records wait for the next journal write; the digest bounds how
	// long (and so how far back recovery reads the log after a crash).
	if err := w.flushJournal(); err != nil {
		return err
	}
	return w.signDigest()
}

// signDigest signs and writes a digest of the events since the last one.
// The caller fsynced the lines it wrote: writeDigest fsyncs the current
// file first, and the probe wrote its marker and the kept events with an
// fsync (and signs before it declares the outage over). The range may also
// hold lines of a file that abandon closed after a failed write, whose
// fsync failed or was never confirmed (lines written under SyncInterval
// before the failure, and unconfirmed lines the write could not take
// back): the digest vouches for them as they are on disk when it is
// signed, not for their durability, so a machine crash that takes them
// back makes verify report the file truncated.
//
// A digest whose write failed is retried under the same name (see
// digestRetry), so that the directory never holds two files of one number:
// the rename replaces whatever the failed attempt left, and either copy
// starts the chain's next link where the previous digest ended.
func (w *Writer) signDigest() error {
	if w.seq == w.digested {
		return nil
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
	name := w.digestRetry
	if name == "" {
		name = digestName(w.region, now, d.Sequence)
	}
	if err := writeFileAtomic(w.fs, w.dir, name, b); err != nil {
		w.digestRetry = name
		return fmt.Errorf("write digest %s: %w", name, err)
	}
	w.digestRetry = ""
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
