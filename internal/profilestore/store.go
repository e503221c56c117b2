// Package profilestore is the persistence adapter of the application
// profile registry ([profile.Registry]): one small JSON file per region
// directory under the node's data directory, replaced atomically on every
// change ([Store]); the registry kept on it ([Registry]), which saves every
// change before it is served; and the record set that the replicas of a
// region share in the quota store ([Shared]). Deleted profiles are kept as
// tombstones so that changes received from other regions merge
// deterministically (last writer wins, see [profile.MergeRecords]).
// It does not resolve or validate profiles; package profile does.
package profilestore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/meridian-gateway/meridian/internal/atomicfile"
	"github.com/meridian-gateway/meridian/internal/profile"
)

// FileName is the store's file inside a region directory.
const FileName = "profiles.json"

// formatVersion is the version of the file's layout.
const formatVersion = 1

// Record is one application profile created through the API, or the
// tombstone of one that was deleted ([profile.Record]).
type Record = profile.Record

// Merge returns the union of local and remote with, for each id, the record
// that supersedes the others, sorted by id, and whether the result differs
// from local ([profile.MergeRecords]).
func Merge(local, remote []Record) ([]Record, bool) { return profile.MergeRecords(local, remote) }

type file struct {
	Version  int      `json:"version"`
	Region   string   `json:"region"`
	Profiles []Record `json:"profiles"`
	// Conflicts are the ids two home regions claimed, with the homes
	// (profile.Registry.Conflicts): kept withdrawn after a restart.
	Conflicts map[string][]string `json:"conflicts,omitempty"`
}

// Store is the file-backed store of one region. It is safe for concurrent
// use within one process; one node owns a region directory.
type Store struct {
	region string
	dir    string
	mu     sync.Mutex
}

// Open returns the store of region under dataDir (dataDir/region/profiles.json).
// It touches no file until Load or Save.
func Open(dataDir, region string) *Store {
	return &Store{region: region, dir: filepath.Join(dataDir, region)}
}

// Path returns the store's file.
func (s *Store) Path() string { return filepath.Join(s.dir, FileName) }

// Load reads every record. A missing file is an empty store.
func (s *Store) Load() ([]Record, error) {
	f, err := s.read()
	return f.Profiles, err
}

// LoadConflicts reads the ids two home regions claimed, with the homes,
// as SaveWithConflicts saved them (none in a file without them).
func (s *Store) LoadConflicts() (map[string][]string, error) {
	f, err := s.read()
	return f.Conflicts, err
}

// read reads and decodes the store's file: an empty one when it is
// missing, the zero file with any error.
func (s *Store) read() (file, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := os.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return file{}, nil
	}
	if err != nil {
		return file{}, fmt.Errorf("read profile store: %w", err)
	}
	return decode(b)
}

// Decode parses a store file.
func Decode(b []byte) ([]Record, error) {
	f, err := decode(b)
	return f.Profiles, err
}

func decode(b []byte) (file, error) {
	var f file
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return file{}, fmt.Errorf("decode profile store: %w", err)
	}
	if f.Version != formatVersion {
		return file{}, fmt.Errorf("decode profile store: version %d is not supported (want %d)", f.Version, formatVersion)
	}
	seen := map[string]bool{}
	for i, r := range f.Profiles {
		if r.ID == "" {
			return file{}, fmt.Errorf("decode profile store: profiles[%d] has no id", i)
		}
		if seen[r.ID] {
			return file{}, fmt.Errorf("decode profile store: profile %q appears twice", r.ID)
		}
		seen[r.ID] = true
	}
	return f, nil
}

// Save replaces the store's content with recs: it writes a temporary file
// in the same directory, syncs it, renames it over the old file and syncs
// the directory, so a crash leaves either the old or the new content.
func (s *Store) Save(recs []Record) error { return s.SaveWithConflicts(recs, nil) }

// SaveWithConflicts is Save, with the ids two home regions claimed
// (profile.Registry.Conflicts).
func (s *Store) SaveWithConflicts(recs []Record, conflicts map[string][]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(conflicts) == 0 {
		conflicts = nil
	}
	b, err := json.MarshalIndent(file{Version: formatVersion, Region: s.region, Profiles: recs, Conflicts: conflicts}, "", "  ")
	if err != nil {
		return fmt.Errorf("encode profile store: %w", err)
	}
	b = append(b, '\n')
	if err := os.MkdirAll(s.dir, 0o750); err != nil {
		return fmt.Errorf("create profile store directory: %w", err)
	}
	if err := atomicfile.Write(s.Path(), b, 0o600); err != nil {
		return fmt.Errorf("replace profile store: %w", err)
	}
	return nil
}
