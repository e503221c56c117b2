//go:build !linux

package quota

import "os/exec"

// dieWithTest does nothing where the kernel cannot tie a child's life to
// its parent's; the tests' clean-ups stop the servers.
func dieWithTest(cmd *exec.Cmd) {}
