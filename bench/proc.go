package bench

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"time"
)

// resetPeakRSS resets the kernel's peak resident set (VmHWM) of this
// process, so that a scenario's peak is its own. Linux only; elsewhere peak
// RSS is the process's lifetime peak.
func resetPeakRSS() { resetProcPeakRSS(0) }

// resetProcPeakRSS is [resetPeakRSS] for process pid (0: this one).
func resetProcPeakRSS(pid int) { os.WriteFile(procPath(pid, "clear_refs"), []byte("5"), 0) }

// peakRSS returns the process's peak resident set in bytes since the last
// [resetPeakRSS], falling back to the lifetime peak from getrusage.
func peakRSS() int64 {
	if v := procStatus(0, "VmHWM:"); v > 0 {
		return v
	}
	return maxRSS()
}

// procPeakRSS is process pid's peak resident set since the last
// [resetProcPeakRSS], or 0 when unknown.
func procPeakRSS(pid int) int64 { return procStatus(pid, "VmHWM:") }

// currentRSS returns the process's resident set in bytes, or 0.
func currentRSS() int64 { return procStatus(0, "VmRSS:") }

// procPath is the path of a file of /proc/PID (pid 0: /proc/self).
func procPath(pid int, file string) string {
	if pid <= 0 {
		return "/proc/self/" + file
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + file
}

// procStatus returns a kB figure of /proc/PID/status (pid 0: this
// process) in bytes, or 0.
func procStatus(pid int, key string) int64 {
	b, err := os.ReadFile(procPath(pid, "status"))
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte(key)); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				return 0
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// procCPU returns the user plus system CPU time of process pid, or 0 when
// pid is not positive or unreadable: from the process's CPU-time clock
// where the kernel offers it (nanoseconds, see [procCPUClock]), else from
// /proc/pid/stat, whose figures are whole clock ticks (10ms): a step that
// costs the process a few milliseconds would read as 0 or 10ms there.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	if d, ok := procCPUClock(pid); ok {
		return d
	}
	return procStatCPU(pid)
}

// procStatCPU is process pid's user plus system CPU time from
// /proc/pid/stat, or 0. Clock ticks are taken as 100 per second (USER_HZ
// on Linux).
func procStatCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name may hold spaces: fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0
	}
	// After ')': state(0) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(11) stime(12).
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(ut+st) * (time.Second / 100)
}
