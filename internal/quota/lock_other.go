//go:build !unix

package quota

import (
	"errors"
	"os"
)

// lockFile cannot lock where flock is not available; without the lock an
// identity could be shared by two live processes, so there is none.
func lockFile(string) (*os.File, error) {
	return nil, errors.New("replica identity needs file locks, which this platform lacks")
}
