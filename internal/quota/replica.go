package quota

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// replicaFile holds a replica's identity in its data directory. Replicas
// of a region already need a data directory of their own (docs/quotas.md),
// so the file names one replica across its restarts and no other.
const replicaFile = "quota-replica-id"

// replicaIDPattern is what a replica id may look like: it becomes a prefix
// of reservation ids and part of a Redis key.
var replicaIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// replicaIdentity returns this replica's stable id, read from dir (created
// with a random id on the first start), and holds an exclusive lock on it
// until the returned file is closed. The lock is what makes releasing the
// previous incarnation's leases exact: while this process holds it, no
// other live process has the same id, so every other incarnation of the id
// is dead. The kernel releases the lock when the process dies.
func replicaIdentity(dir string) (string, *os.File, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, replicaFile)
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return "", nil, err
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		var r [8]byte
		rand.Read(r[:])
		id := hex.EncodeToString(r[:])
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
			lock.Close()
			return "", nil, fmt.Errorf("write replica id: %w", err)
		}
		if err := os.Rename(tmp, path); err != nil {
			lock.Close()
			return "", nil, fmt.Errorf("write replica id: %w", err)
		}
		return id, lock, nil
	case err != nil:
		lock.Close()
		return "", nil, fmt.Errorf("read replica id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if !replicaIDPattern.MatchString(id) {
		lock.Close()
		return "", nil, fmt.Errorf("%s does not hold a replica id (1 to 64 of A-Z a-z 0-9 . _ -); delete it to get a new one", path)
	}
	return id, lock, nil
}
