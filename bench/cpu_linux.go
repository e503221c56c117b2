package bench

import (
	"syscall"
	"time"
	"unsafe"
)

// procCPUClock reads the CPU-time clock of process pid (clock_getcpuclockid:
// user plus system time of every thread it ran, the exited ones included,
// to the nanosecond). ok is false when the kernel refuses, for instance
// once the process is gone.
func procCPUClock(pid int) (d time.Duration, ok bool) {
	// The clock id of a process's CPU clock (the kernel's
	// MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)): the complement of the
	// pid shifted left by 3, with 2 (the scheduler's runtime) in the low
	// bits.
	clk := int32(^uint32(pid)<<3 | 2)
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, uintptr(clk), uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
