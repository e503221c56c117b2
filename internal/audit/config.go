package audit

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// SyncPolicy says when the [Writer] calls fsync.
type SyncPolicy string

const (
	// SyncInterval writes every group commit to the operating system at once
	// and fsyncs at most every [Config.FsyncInterval]. [Writer.Append] returns
	// once the event is written to the OS: a process crash loses nothing, a
	// machine crash can lose the last interval.
	SyncInterval SyncPolicy = "interval"
	// SyncAlways fsyncs every group commit; [Writer.Append] returns once the
	// event is on stable storage.
	SyncAlways SyncPolicy = "always"
)

func (p SyncPolicy) String() string { return string(p) }

// Defaults used for zero fields of [Config].
const (
	DefaultFsyncInterval  = 100 * time.Millisecond
	DefaultDigestInterval = time.Minute
	DefaultRotateBytes    = 64 << 20
	DefaultRotateInterval = time.Hour
	DefaultQueueSize      = 4096
	// DefaultKeyName is the private key's file name in [Config.Dir] when
	// [Config.KeyFile] is empty; the public key is written beside it with a
	// ".pub" suffix.
	DefaultKeyName = "audit-key"
)

// Config mirrors the `audit:` section of the topology file. The zero value of
// every field except Dir is useful; [Config.Validate] reports what is not.
type Config struct {
	// Dir is the root of the audit trail; a writer writes under Dir/<region>/.
	Dir string `yaml:"dir" json:"dir"`
	// RecordContent stores prompts and completions in [Event.Content]. If
	// false (the default) Content is dropped before the event is written.
	RecordContent bool `yaml:"record_content" json:"record_content"`
	// Fsync is the fsync policy. If empty, [SyncInterval] is used.
	Fsync SyncPolicy `yaml:"fsync" json:"fsync"`
	// FsyncInterval is the longest time written events stay unsynced under
	// [SyncInterval]. If zero, 100ms is used.
	FsyncInterval time.Duration `yaml:"fsync_interval" json:"fsync_interval"`
	// DigestInterval is how often a signed digest is written (when events
	// arrived since the last one). If zero, 1m is used.
	DigestInterval time.Duration `yaml:"digest_interval" json:"digest_interval"`
	// RotateBytes starts a new log file before one would grow past this size.
	// If zero, 64 MiB is used.
	RotateBytes int64 `yaml:"rotate_bytes" json:"rotate_bytes"`
	// RotateInterval starts a new log file when the current one is this old.
	// If zero, 1h is used.
	RotateInterval time.Duration `yaml:"rotate_interval" json:"rotate_interval"`
	// KeyFile is the PEM ed25519 private key that signs digests. If empty,
	// Dir/audit-key is used, and created (with Dir/audit-key.pub) when missing.
	// A KeyFile that is set must exist.
	KeyFile string `yaml:"key_file" json:"key_file"`
	// QueueSize bounds the events waiting to be written; beyond it
	// [Writer.Append] returns [ErrBackpressure]. If zero, 4096 is used.
	QueueSize int `yaml:"queue_size" json:"queue_size"`
}

// Default returns the configuration used when the topology sets only dir.
func Default(dir string) Config {
	return Config{Dir: dir}.withDefaults()
}

func (c Config) withDefaults() Config {
	if c.Fsync == "" {
		c.Fsync = SyncInterval
	}
	if c.FsyncInterval == 0 {
		c.FsyncInterval = DefaultFsyncInterval
	}
	if c.DigestInterval == 0 {
		c.DigestInterval = DefaultDigestInterval
	}
	if c.RotateBytes == 0 {
		c.RotateBytes = DefaultRotateBytes
	}
	if c.RotateInterval == 0 {
		c.RotateInterval = DefaultRotateInterval
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	return c
}

// keyFile returns the private key path and whether it is the default one
// (which the writer may create).
func (c Config) keyFile() (path string, isDefault bool) {
	if c.KeyFile != "" {
		return c.KeyFile, false
	}
	return filepath.Join(c.Dir, DefaultKeyName), true
}

// Validate reports every invalid field at once, each named by its path under
// `audit:`.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("audit.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Dir == "" {
		bad("dir", "is required (the directory the audit trail is written to)")
	}
	switch c.Fsync {
	case "", SyncInterval, SyncAlways:
	default:
		bad("fsync", "%q is not a policy (use interval or always)", string(c.Fsync))
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"fsync_interval", c.FsyncInterval}, {"digest_interval", c.DigestInterval}, {"rotate_interval", c.RotateInterval}} {
		if d.v < 0 {
			bad(d.field, "%s is negative (use a positive duration, or leave it out for the default)", d.v)
		}
	}
	if c.RotateBytes < 0 {
		bad("rotate_bytes", "%d is negative (use a positive size, or leave it out for 64 MiB)", c.RotateBytes)
	}
	if c.QueueSize < 0 {
		bad("queue_size", "%d is negative (use a positive size, or leave it out for 4096)", c.QueueSize)
	}
	return errors.Join(errs...)
}
