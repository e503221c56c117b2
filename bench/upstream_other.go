//go:build !linux

package bench

import "syscall"

// upstreamProcAttr: elsewhere the upstream process is stopped by
// [Cluster.Close] only.
func upstreamProcAttr() *syscall.SysProcAttr { return nil }
