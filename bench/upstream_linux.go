package bench

import "syscall"

// upstreamProcAttr makes the kernel kill the upstream process when this
// one dies, so that an interrupted run leaves nothing behind.
func upstreamProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
